package cd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// Registries a target's model can live in, chosen by the resource the
// bundle declares: registered_models (Unity Catalog) or models (the
// workspace model registry, for workspaces that still have it).
const (
	RegistryUnityCatalog = "unity-catalog"
	RegistryWorkspace    = "workspace"
)

// ModelRegistry is where an environment's model versions live: Unity
// Catalog (unityCatalog) or the workspace model registry
// (workspaceRegistry). Connect opens the one the bundle target declares;
// the stages ask it, never which one it is.
type ModelRegistry interface {
	// CheckCatalog refuses, before anything changes, a target whose model
	// the deploying principal could not create; a registry with nothing to
	// check skips, saying why.
	CheckCatalog(ctx context.Context) error
	// Version reads one version of a model.
	Version(ctx context.Context, model, version string) (*ml.ModelVersion, error)
	// WaitReady returns a version once it is READY, or why it will not be.
	WaitReady(ctx context.Context, model, version string) (*ml.ModelVersion, error)

	// Route chooses how this environment comes by the version the source
	// environment from verified (src is from's client): RouteCopy,
	// RouteTrain or RouteUCCopy.
	Route(ctx context.Context, from string, src *workspace.Client) (string, error)
	// SourceVersion is the READY version the source environment's record
	// rec names, read as this environment's deploy will read it.
	SourceVersion(ctx context.Context, from string, src *workspace.Client, rec *release.Record) (*ml.ModelVersion, error)

	// RegisteredBefore finds the version an earlier deploy of this
	// release registered here, so that a re-run serves it instead of
	// training again; nil when there is none.
	RegisteredBefore(ctx context.Context, d deployment) (*Registered, error)
	// Register makes the training run's model a READY version of the
	// release. A result with an error is a version registered whose
	// aftercare (pruning aliases, deleting unfinished versions) failed.
	Register(ctx context.Context, d deployment, tr *Training) (*Registered, error)
	// Promote copies the version the source environment verified into
	// this environment's model, or finds the copy an earlier attempt made.
	// A result with an error is a copy made whose aftercare failed.
	Promote(ctx context.Context, d deployment) (*Registered, error)

	// MoveAliases points the model's aliases at what ep serves now.
	MoveAliases(ctx context.Context, ep *serving.ServingEndpointDetailed) error
	// MoveAliasesLive is MoveAliases on the endpoint as it is now.
	MoveAliasesLive(ctx context.Context) error

	// Aliases are the model's aliases (alias -> version) for status and a
	// saved plan: empty for a model not created yet, nil for a registry
	// without aliases.
	Aliases(ctx context.Context) (map[string]string, error)
	// Plan fills in what the deploy does to the model: the plan's model
	// action, its promotion source and its alias moves.
	Plan(ctx context.Context, d deployment, p *PlanReport) error
}

// openRegistry opens the model registry the target declares, for client.
func openRegistry(cfg *EnvConfig, client *workspace.Client, run runner, timeout time.Duration) ModelRegistry {
	base := registryBase{cfg: cfg, client: client, run: run}
	if cfg.Registry == RegistryUnityCatalog {
		return &unityCatalog{base}
	}
	return &workspaceRegistry{registryBase: base, timeout: timeout}
}

// registryBase is what both registries work with: the target, its
// workspace client and the run they report to.
type registryBase struct {
	cfg    *EnvConfig
	client *workspace.Client
	run    runner
}

// runner is what a registry uses of the run that holds it: its output,
// its measured waits and its job runs (the promote job).
type runner interface {
	Printf(format string, args ...any)
	StartWait(what string) *Progress
	PollUntil(ctx context.Context, timeout time.Duration, p *Progress, check func() (string, error)) error
	runJobAttempt(ctx context.Context, what, key, name, step string, extra ...map[string]string) (int64, *jobs.Run, error)
}

// Registered is a READY version a registry made or found for a release,
// and how the release record names it.
type Registered struct {
	Version *ml.ModelVersion
	Ref     *release.ModelVersionRef
	// How says how it was found, when it was found instead of made.
	How string
}

// deployment is what a registry is told of the deploy it works for.
type deployment struct {
	release release.Identity
	// source is the source environment's verified record of the release
	// and sourceVersion the version it names; nil in an environment that
	// trains every release.
	source        *release.Record
	sourceVersion *ml.ModelVersion
	route         string
	// record is the deploy's release record (nil while planning) and
	// version the version it serves, once known.
	record  *release.Record
	version *ml.ModelVersion
}

// deployment is what the registry needs to know of this run.
func (s *State) deployment() deployment {
	return deployment{
		release: s.Release, source: s.Source, sourceVersion: s.SourceVersion, route: s.Route,
		record: s.Record, version: s.Version,
	}
}

// lineage adds the promotion source to a version trained on the train
// route (dev's versions have none).
func (d deployment) lineage(ref *release.ModelVersionRef) *release.ModelVersionRef {
	if d.source != nil && d.sourceVersion != nil {
		ref.Source = &release.ModelSource{Env: d.source.Env, Model: d.sourceVersion.Name, Version: d.sourceVersion.Version, Record: d.source.ID, Route: RouteTrain}
	}
	return ref
}

// copySource is the record's account of a version copied from the source
// environment by route.
func (d deployment) copySource(route string) *release.ModelSource {
	return &release.ModelSource{Env: d.source.Env, Model: d.sourceVersion.Name, Version: d.sourceVersion.Version, Record: d.source.ID, Route: route}
}

// copyRef is the record's reference to version, a copy of the source
// version by route: the source's MLflow run and training job run.
func (d deployment) copyRef(model, version, route string) *release.ModelVersionRef {
	ref := &release.ModelVersionRef{Name: model, Version: version, RunID: d.sourceVersion.RunId, Source: d.copySource(route)}
	if d.source.Model != nil {
		ref.JobRunID, ref.JobRunURL = d.source.Model.JobRunID, d.source.Model.JobRunURL
	}
	return ref
}

// unknownSourcePlan is the model plan of a promotion whose source is not
// known (the plan's blocks say why).
func unknownSourcePlan(model string) ModelPlan {
	return ModelPlan{Action: "promote", Model: model, Detail: "unknown: no verified source release (see blocks)"}
}

// markRelease records that the endpoint serves this release at 100%: the
// endpoint's release tags and the registry's aliases.
func (s *State) markRelease(ctx context.Context, ep *serving.ServingEndpointDetailed) error {
	if err := s.TagEndpoint(ctx, ep); err != nil {
		return err
	}
	return s.Registry.MoveAliases(ctx, ep)
}

// UnfinishedVersionError is a Unity Catalog version still
// PENDING_REGISTRATION: its upload died before finalize.
type UnfinishedVersionError struct {
	Model, Version string
}

func (e *UnfinishedVersionError) Error() string {
	return fmt.Sprintf("model %s v%s is PENDING_REGISTRATION: the task that registered it died before finalizing it, and nothing else will; deploy again to register a new version", e.Model, e.Version)
}

// RegistrationFailedError is a model version that ended FAILED_REGISTRATION.
type RegistrationFailedError struct {
	Model, Version, Message string
}

func (e *RegistrationFailedError) Error() string {
	return fmt.Sprintf("model %s v%s failed registration (FAILED_REGISTRATION): %s", e.Model, e.Version, e.Message)
}

func versionNumber(v string) int {
	n, _ := strconv.Atoi(v)
	return n
}
