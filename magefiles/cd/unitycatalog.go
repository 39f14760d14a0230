package cd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/rollout"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// unityCatalog is the ModelRegistry of a target that declares a Unity
// Catalog model (registered_models): catalog.schema.name, shared by every
// workspace attached to the metastore. A release's version is named by its
// release alias (release_<tag>); @champion and @challenger follow what the
// endpoint serves. The training run registers dev's version (the SDK cannot
// create Unity Catalog versions); the target's promote job copies it into
// staging's and prod's models.
type unityCatalog struct{ registryBase }

// ReleaseAlias is the alias naming a release's version in a Unity Catalog
// model (bundle.ReleaseAlias: v1.2.0-rc.1 -> release_v1_2_0_rc_1).
func ReleaseAlias(tag string) string { return bundle.ReleaseAlias(tag) }

// ucVersion reads a Unity Catalog model version into the record the flows
// share with the workspace registry: Name is the three-level name; the
// aliases pointing at it come back separately.
func ucVersion(info *catalog.ModelVersionInfo, full string) (*ml.ModelVersion, []string) {
	mv := &ml.ModelVersion{
		Name: full, Version: strconv.Itoa(info.Version), RunId: info.RunId, Source: info.Source,
		Description: info.Comment, Status: ucStatus(info.Status),
	}
	var aliases []string
	for _, a := range info.Aliases {
		aliases = append(aliases, a.AliasName)
	}
	sort.Strings(aliases)
	return mv, aliases
}

func ucStatus(s catalog.ModelVersionInfoStatus) ml.ModelVersionStatus {
	switch s {
	case catalog.ModelVersionInfoStatusReady:
		return ml.ModelVersionStatusReady
	case catalog.ModelVersionInfoStatusFailedRegistration:
		return ml.ModelVersionStatusFailedRegistration
	}
	return ml.ModelVersionStatusPendingRegistration
}

func versionInt(model, version string) (int, error) {
	n, err := strconv.Atoi(version)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("model %s: version %q is not a positive number", model, version)
	}
	return n, nil
}

// statusMessage is why a Unity Catalog version failed registration. The
// SDK's ModelVersionInfo has no status message (v0.118 to v0.175), but
// MLflow's Unity Catalog registry route returns one; it is read through the
// SDK's own client (auth, retries), and its absence is said, not hidden.
func (u *unityCatalog) statusMessage(ctx context.Context, model, version string) string {
	const unknown = "Unity Catalog gave no reason; the registering run's logs have it"
	c, err := client.New(u.client.W.Config)
	if err != nil {
		return unknown
	}
	var resp struct {
		ModelVersion struct {
			StatusMessage string `json:"status_message"`
		} `json:"model_version"`
	}
	err = c.Do(ctx, http.MethodGet, "/api/2.0/mlflow/unity-catalog/model-versions/get", nil,
		map[string]any{"name": model, "version": version}, nil, &resp)
	if err != nil || resp.ModelVersion.StatusMessage == "" {
		return unknown
	}
	return resp.ModelVersion.StatusMessage
}

// WaitReady reads the version once: MLflow finalizes a Unity Catalog
// version before create_model_version returns ("a successful creation will
// immediately place the model version in a READY state", its Unity Catalog
// store), so one still PENDING_REGISTRATION is an upload that died, which
// nothing will finish; waiting on it would only run into the timeout.
func (u *unityCatalog) WaitReady(ctx context.Context, model, version string) (*ml.ModelVersion, error) {
	mv, err := u.Version(ctx, model, version)
	if err != nil {
		return nil, fmt.Errorf("read %s v%s: %w", model, version, err)
	}
	switch mv.Status {
	case ml.ModelVersionStatusReady:
		return mv, nil
	case ml.ModelVersionStatusFailedRegistration:
		return nil, &RegistrationFailedError{Model: model, Version: version, Message: u.statusMessage(ctx, model, version)}
	}
	return nil, &UnfinishedVersionError{Model: model, Version: version}
}

// Version implements ModelRegistry.
func (u *unityCatalog) Version(ctx context.Context, model, version string) (*ml.ModelVersion, error) {
	n, err := versionInt(model, version)
	if err != nil {
		return nil, err
	}
	info, err := u.client.W.ModelVersions.Get(ctx, catalog.GetModelVersionRequest{FullName: model, Version: n})
	if err != nil {
		return nil, err
	}
	mv, _ := ucVersion(info, model)
	return mv, nil
}

// versions lists the model's versions (the list answer has no tags:
// lineage is found by run id, source or alias instead).
func (u *unityCatalog) versions(ctx context.Context) ([]ml.ModelVersion, error) {
	model := u.cfg.Model
	infos, err := u.client.W.ModelVersions.ListAll(ctx, catalog.ListModelVersionsRequest{FullName: model})
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", model, err)
	}
	out := make([]ml.ModelVersion, 0, len(infos))
	for i := range infos {
		mv, _ := ucVersion(&infos[i], model)
		out = append(out, *mv)
	}
	return out, nil
}

// byAlias returns the version an alias names, nil when the alias is not set.
func (u *unityCatalog) byAlias(ctx context.Context, alias string) (*ml.ModelVersion, error) {
	model := u.cfg.Model
	info, err := u.client.W.ModelVersions.GetByAlias(ctx, catalog.GetByAliasRequest{FullName: model, Alias: alias})
	if errors.Is(err, apierr.ErrNotFound) || errors.Is(err, apierr.ErrResourceDoesNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", model, alias, err)
	}
	mv, _ := ucVersion(info, model)
	return mv, nil
}

// Aliases implements ModelRegistry: a model not created yet has none.
func (u *unityCatalog) Aliases(ctx context.Context) (map[string]string, error) {
	have, err := u.aliases(ctx)
	if notFound(err) {
		return map[string]string{}, nil
	}
	return have, err
}

// aliases are the model's aliases: alias -> version.
func (u *unityCatalog) aliases(ctx context.Context) (map[string]string, error) {
	model := u.cfg.Model
	info, err := u.client.W.RegisteredModels.Get(ctx, catalog.GetRegisteredModelRequest{FullName: model, IncludeAliases: true})
	if err != nil {
		return nil, fmt.Errorf("aliases of %s: %w", model, err)
	}
	out := map[string]string{}
	for _, a := range info.Aliases {
		out[a.AliasName] = strconv.Itoa(a.VersionNum)
	}
	return out, nil
}

// setAlias points alias at version (setting an alias moves it).
func (u *unityCatalog) setAlias(ctx context.Context, alias, version string) error {
	model := u.cfg.Model
	n, err := versionInt(model, version)
	if err != nil {
		return err
	}
	if _, err := u.client.W.RegisteredModels.SetAlias(ctx, catalog.SetRegisteredModelAliasRequest{FullName: model, Alias: alias, VersionNum: n}); err != nil {
		return fmt.Errorf("set %s@%s to v%s: %w", model, alias, version, err)
	}
	return nil
}

// deleteAlias removes an alias; one that is not set is already removed.
func (u *unityCatalog) deleteAlias(ctx context.Context, alias string) error {
	model := u.cfg.Model
	err := u.client.W.RegisteredModels.DeleteAlias(ctx, catalog.DeleteAliasRequest{FullName: model, Alias: alias})
	if err == nil || errors.Is(err, apierr.ErrNotFound) || errors.Is(err, apierr.ErrResourceDoesNotExist) {
		return nil
	}
	return fmt.Errorf("delete %s@%s: %w", model, alias, err)
}

// KeptReleaseAliases is how many release aliases (release_<tag>) a model
// keeps: the ones on its newest versions. No public source states a limit
// on aliases per Unity Catalog model; the bound is the project's choice, so
// that a model released every day does not gather aliases without end.
// Rollback chooses its target from the journal by version number, so a
// pruned alias costs it nothing; @champion, @challenger and any alias not
// named release_* are never pruned.
const KeptReleaseAliases = 10

// pruneReleaseAliases deletes the release aliases beyond the newest
// KeptReleaseAliases (by the version they name, then by name), keeping the
// one of the release being deployed.
func (u *unityCatalog) pruneReleaseAliases(ctx context.Context, current string) error {
	model := u.cfg.Model
	have, err := u.aliases(ctx)
	if err != nil {
		return err
	}
	var release []string
	for a := range have {
		if strings.HasPrefix(a, "release_") && a != current {
			release = append(release, a)
		}
	}
	sort.Slice(release, func(i, j int) bool {
		vi, vj := versionNumber(have[release[i]]), versionNumber(have[release[j]])
		if vi != vj {
			return vi > vj
		}
		return release[i] > release[j]
	})
	for i, a := range release {
		if i < KeptReleaseAliases-1 {
			continue
		}
		if err := u.deleteAlias(ctx, a); err != nil {
			return err
		}
		u.run.Printf("   %s@%s removed (v%s): only the newest %d release aliases are kept\n", model, a, have[a], KeptReleaseAliases)
	}
	return nil
}

// AliasMove is one alias change a stage makes (plan shows them).
type AliasMove struct {
	Alias, From, To string // From/To "" when unset before/after
}

func (m AliasMove) String() string {
	switch {
	case m.To == "":
		return fmt.Sprintf("@%s removed (was v%s)", m.Alias, m.From)
	case m.From == "":
		return fmt.Sprintf("@%s -> v%s", m.Alias, m.To)
	case m.From == m.To:
		return fmt.Sprintf("@%s stays on v%s", m.Alias, m.To)
	}
	return fmt.Sprintf("@%s v%s -> v%s", m.Alias, m.From, m.To)
}

// ServingAliases derives the release state aliases from what an endpoint
// serves: champion is the environment model's version with the most
// traffic, challenger another version of it that has some (the canary
// candidate). Versions of other models are not ours to name.
func ServingAliases(ep *serving.ServingEndpointDetailed, model string) (champion, challenger string) {
	if ep == nil || ep.Config == nil {
		return "", ""
	}
	traffic := rollout.Traffic(ep)
	best, second := -1, -1
	for _, e := range ep.Config.ServedEntities {
		if e.EntityName != model || traffic[e.Name] == 0 {
			continue
		}
		switch t := traffic[e.Name]; {
		case t > best:
			challenger, second = champion, best
			champion, best = e.EntityVersion, t
		case t > second:
			challenger, second = e.EntityVersion, t
		}
	}
	return champion, challenger
}

// MoveAliases moves @champion and @challenger to what the endpoint serves
// now (ServingAliases). Deriving them from the endpoint, not from the step
// that ran, makes a re-run after a kill converge.
func (u *unityCatalog) MoveAliases(ctx context.Context, ep *serving.ServingEndpointDetailed) error {
	if ep == nil {
		return nil
	}
	model := u.cfg.Model
	champion, challenger := ServingAliases(ep, model)
	have, err := u.aliases(ctx)
	if err != nil {
		return err
	}
	for _, m := range aliasMoves(u.cfg, have, champion, challenger) {
		if m.To == "" {
			err = u.deleteAlias(ctx, m.Alias)
		} else {
			err = u.setAlias(ctx, m.Alias, m.To)
		}
		if err != nil {
			return err
		}
		u.run.Printf("   %s %s\n", model, m)
	}
	return nil
}

// MoveAliasesLive implements ModelRegistry.
func (u *unityCatalog) MoveAliasesLive(ctx context.Context) error {
	name := u.cfg.Endpoint.Name
	ep, err := u.client.W.ServingEndpoints.GetByName(ctx, name)
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", name, err)
	}
	return u.MoveAliases(ctx, ep)
}

// aliasMoves are the changes that make have name champion and challenger
// (a champion of "" leaves the alias alone: nothing of ours serves).
func aliasMoves(cfg *EnvConfig, have map[string]string, champion, challenger string) []AliasMove {
	var moves []AliasMove
	if champion != "" && have[cfg.ChampionAlias] != champion {
		moves = append(moves, AliasMove{Alias: cfg.ChampionAlias, From: have[cfg.ChampionAlias], To: champion})
	}
	if have[cfg.ChallengerAlias] != challenger {
		moves = append(moves, AliasMove{Alias: cfg.ChallengerAlias, From: have[cfg.ChallengerAlias], To: challenger})
	}
	return moves
}

// CatalogMissingError is a target whose catalog or schema does not exist
// (or is not visible to the deploying principal) in the metastore.
type CatalogMissingError struct {
	Env, Host, Schema, Principal string
	Err                          error
}

func (e *CatalogMissingError) Error() string {
	cat, _, _ := strings.Cut(e.Schema, ".")
	return fmt.Sprintf("deploy:%s: schema %s is not in the Unity Catalog metastore of %s as %s sees it (%v). Nothing was changed. "+
		"Create it (CREATE CATALOG IF NOT EXISTS %s; CREATE SCHEMA IF NOT EXISTS %s), grant %s USE_CATALOG on %s and USE_SCHEMA, CREATE_MODEL on %s, "+
		"or set the target's catalog and schema variables to ones that exist",
		e.Env, e.Schema, e.Host, e.Principal, e.Err, cat, e.Schema, e.Principal, cat, e.Schema)
}

func (e *CatalogMissingError) Unwrap() error { return e.Err }

// SourceGrantError is a promotion whose source version the target
// workspace's principal cannot read: Unity Catalog shares models between
// workspaces of one metastore only where granted.
type SourceGrantError struct {
	Env, From, Principal, Model, Version string
	Err                                  error
}

func (e *SourceGrantError) Error() string {
	parts := strings.SplitN(e.Model, ".", 3)
	cat, schema := parts[0], e.Model
	if len(parts) == 3 {
		schema = parts[0] + "." + parts[1]
	}
	return fmt.Sprintf("deploy:%s cannot read %s's %s v%s as %s (%v). Nothing was changed. "+
		"Promotion copies the version %s verified into %s's model through the shared metastore, so %s needs "+
		"USE_CATALOG on %s, USE_SCHEMA on %s and EXECUTE on %s; grant them (GRANT USE_CATALOG ON CATALOG %s TO `%s`; ...) "+
		"and bind catalog %s to %s's workspace if the catalog is workspace-bound",
		e.Env, e.From, e.Model, e.Version, e.Principal, e.Err, e.From, e.Env, e.Principal, cat, schema, e.Model, cat, e.Principal, cat, e.Env)
}

func (e *SourceGrantError) Unwrap() error { return e.Err }

func permissionDenied(err error) bool {
	return errors.Is(err, apierr.ErrPermissionDenied)
}

func notFound(err error) bool {
	return errors.Is(err, apierr.ErrNotFound) || errors.Is(err, apierr.ErrResourceDoesNotExist)
}

func grantsOf(gs []bundle.Grant) []workspace.Grant {
	out := make([]workspace.Grant, len(gs))
	for i, g := range gs {
		out[i] = workspace.Grant{Principal: g.Principal, Privileges: g.Privileges}
	}
	return out
}
