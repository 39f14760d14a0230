package cd

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// CheckCatalog refuses a target whose catalog or schema the deploying
// principal cannot see: the bundle deploy would otherwise fail half way,
// creating the model.
func (u *unityCatalog) CheckCatalog(ctx context.Context) error {
	cfg := u.cfg
	if _, err := u.client.W.Schemas.GetByFullName(ctx, cfg.Schema); err != nil {
		if notFound(err) || permissionDenied(err) {
			return &CatalogMissingError{Env: cfg.Env.Name(), Host: u.client.Host, Schema: cfg.Schema, Principal: u.client.User, Err: err}
		}
		return fmt.Errorf("schema %s: %w", cfg.Schema, err)
	}
	u.run.Printf("   Unity Catalog model %s (@%s serves, @%s is the canary)\n", cfg.Model, cfg.ChampionAlias, cfg.ChallengerAlias)
	return nil
}

// Route is always RouteUCCopy: every workspace attached to the metastore
// reads the source version, so the promote job copies it whichever
// workspace the source environment is in.
func (u *unityCatalog) Route(context.Context, string, *workspace.Client) (string, error) {
	return RouteUCCopy, nil
}

// SourceVersion reads the source environment's verified version through
// this environment's client: that is what the promote job will do, so a
// missing grant on the source catalog is found here, before anything
// changes in this environment.
func (u *unityCatalog) SourceVersion(ctx context.Context, from string, _ *workspace.Client, rec *release.Record) (*ml.ModelVersion, error) {
	ref := rec.Model
	mv, err := u.Version(ctx, ref.Name, ref.Version)
	if permissionDenied(err) {
		return nil, &SourceGrantError{Env: u.cfg.Env.Name(), From: from, Principal: u.client.User, Model: ref.Name, Version: ref.Version, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("%s model %s v%s: %w", from, ref.Name, ref.Version, err)
	}
	if mv.Status != ml.ModelVersionStatusReady {
		return nil, fmt.Errorf("%s model %s v%s is %s, not READY", from, ref.Name, ref.Version, mv.Status)
	}
	return mv, nil
}

// RegisteredBefore finds the version the release alias names: an earlier
// deploy of this release registered it.
func (u *unityCatalog) RegisteredBefore(ctx context.Context, d deployment) (*Registered, error) {
	model, alias := u.cfg.Model, ReleaseAlias(d.release.Tag)
	mv, err := u.byAlias(ctx, alias)
	if err != nil || mv == nil {
		return nil, err
	}
	if mv, err = u.WaitReady(ctx, model, mv.Version); err != nil {
		return nil, err
	}
	return &Registered{
		Version: mv,
		Ref:     &release.ModelVersionRef{Name: model, Version: mv.Version, RunID: mv.RunId, Registry: RegistryUnityCatalog, Alias: alias},
		How:     fmt.Sprintf("%s@%s is v%s: %s was trained before, served again", model, alias, mv.Version, d.release.Tag),
	}, nil
}

// Register finds the version the training run registered (train.py
// registers it: the SDK cannot create Unity Catalog versions), waits for
// READY and names it with the release alias.
func (u *unityCatalog) Register(ctx context.Context, d deployment, tr *Training) (*Registered, error) {
	model := u.cfg.Model
	version, how := "", "registered by the training run"
	if tr.ReportedModel == model && tr.ReportedVersion != "" {
		version = tr.ReportedVersion
	} else {
		// The report names no version (or another model): the run's version
		// is the one whose run_id is the MLflow run's.
		all, err := u.versions(ctx)
		if err != nil {
			return nil, err
		}
		best := 0
		for _, mv := range all {
			if n := versionNumber(mv.Version); mv.RunId == tr.MLflowRunID && n > best {
				best = n
			}
		}
		if best == 0 {
			return nil, fmt.Errorf("training run %d (%s) registered no version of %s: none has MLflow run %s (does the training task pass --model-name %s?)",
				tr.RunID, tr.RunURL, model, tr.MLflowRunID, model)
		}
		version, how = strconv.Itoa(best), "found by the training run's MLflow run id"
	}
	mv, err := u.WaitReady(ctx, model, version)
	var rf *RegistrationFailedError
	if errors.As(err, &rf) {
		return nil, fmt.Errorf("%w (training run %d: %s)", err, tr.RunID, tr.RunURL)
	}
	if err != nil {
		return nil, err
	}
	alias := ReleaseAlias(d.release.Tag)
	if err := u.setAlias(ctx, alias, mv.Version); err != nil {
		return nil, err
	}
	r := &Registered{Version: mv, Ref: &release.ModelVersionRef{Name: model, Version: mv.Version, RunID: tr.MLflowRunID, JobRunID: tr.RunID, JobRunURL: tr.RunURL,
		Registry: RegistryUnityCatalog, Alias: alias}}
	u.run.Printf("   %s v%s READY (%s), @%s\n", model, mv.Version, how, alias)
	if err := u.pruneReleaseAliases(ctx, alias); err != nil {
		return r, err
	}
	return r, u.discardUnfinished(ctx, d, mv.Version)
}

// attachDiscarded lists the unfinished versions a deploy deleted.
const attachDiscarded = "discarded_versions"

// discardUnfinished deletes the versions of the model still
// PENDING_REGISTRATION whose MLflow run is a training run of this release
// (train.py tags the run with the release before it logs the model): a
// training run that died mid-upload left them, and nothing will finalize
// them. Versions of other releases, or of runs that cannot be read, are
// left alone. The deploy's record lists what was deleted.
func (u *unityCatalog) discardUnfinished(ctx context.Context, d deployment, keep string) error {
	model, tag := u.cfg.Model, d.release.Tag
	all, err := u.versions(ctx)
	if err != nil {
		return err
	}
	var discarded []string
	_, _ = d.record.Attachment(attachDiscarded, &discarded)
	for _, mv := range all {
		if mv.Status != ml.ModelVersionStatusPendingRegistration || mv.Version == keep || mv.RunId == "" {
			continue
		}
		run, err := u.client.W.Experiments.GetRun(ctx, ml.GetRunRequest{RunId: mv.RunId})
		if err != nil || run.Run == nil || run.Run.Data == nil || !hasTag(run.Run.Data.Tags, "release", tag) {
			continue
		}
		n, err := versionInt(model, mv.Version)
		if err != nil {
			return err
		}
		if err := u.client.W.ModelVersions.Delete(ctx, catalog.DeleteModelVersionRequest{FullName: model, Version: n}); err != nil && !notFound(err) {
			return fmt.Errorf("delete unfinished %s v%s: %w", model, mv.Version, err)
		}
		discarded = append(discarded, mv.Version)
		u.run.Printf("   deleted %s v%s: PENDING_REGISTRATION, left by a training run of %s (MLflow run %s) that died before finalizing it\n", model, mv.Version, tag, mv.RunId)
	}
	if len(discarded) == 0 {
		return nil
	}
	return d.record.Attach(attachDiscarded, discarded)
}

func hasTag(tags []ml.RunTag, key, value string) bool {
	for _, t := range tags {
		if t.Key == key {
			return t.Value == value
		}
	}
	return false
}

// Promote copies the version the source environment verified into this
// environment's model with the target's promote job, and names the copy
// with the release alias. The alias, or failing that a version whose
// source is the source version, is the copy of an earlier attempt: a
// re-run makes no second copy.
func (u *unityCatalog) Promote(ctx context.Context, d deployment) (*Registered, error) {
	src, cfg := d.sourceVersion, u.cfg
	alias := ReleaseAlias(d.release.Tag)
	how := "already copied"
	copyOf, err := u.findCopy(ctx, alias, fmt.Sprintf("models:/%s/%s", src.Name, src.Version))
	if err != nil {
		return nil, err
	}
	if copyOf == nil {
		if cfg.PromoteJobKey == "" {
			return nil, fmt.Errorf("bundle target %s declares no promote job (a job whose key mentions promote): nothing can copy %s v%s", cfg.Env, src.Name, src.Version)
		}
		_, run, err := u.run.runJobAttempt(ctx, "promotion", cfg.PromoteJobKey, cfg.PromoteJob, "promote", map[string]string{
			"source_model": src.Name, "source_version": src.Version, "release_alias": alias,
		})
		if err != nil {
			return nil, fmt.Errorf("promote %s v%s: %w", src.Name, src.Version, err)
		}
		if copyOf, err = u.byAlias(ctx, alias); err != nil {
			return nil, err
		}
		if copyOf == nil {
			return nil, fmt.Errorf("promotion run %d (%s) succeeded but %s@%s is not set: the promote task sets it after copying", run.RunId, run.RunPageUrl, cfg.Model, alias)
		}
		how = fmt.Sprintf("copied by promotion run %d", run.RunId)
	}
	mv, err := u.WaitReady(ctx, cfg.Model, copyOf.Version)
	if err != nil {
		return nil, fmt.Errorf("promote %s v%s: %w", src.Name, src.Version, err)
	}
	if err := u.setAlias(ctx, alias, mv.Version); err != nil {
		return nil, err
	}
	ref := d.copyRef(cfg.Model, mv.Version, RouteUCCopy)
	ref.Registry, ref.Alias = RegistryUnityCatalog, alias
	u.run.Printf("   %s v%s -> %s v%s @%s (%s)\n", src.Name, src.Version, cfg.Model, mv.Version, alias, how)
	return &Registered{Version: mv, Ref: ref}, u.pruneReleaseAliases(ctx, alias)
}

// findCopy is the copy an earlier attempt made: the version the release
// alias names, or else the newest READY version copied from sourceURI (one
// left PENDING by a run that died mid-upload is deleted by the promote
// task's next run).
func (u *unityCatalog) findCopy(ctx context.Context, alias, sourceURI string) (*ml.ModelVersion, error) {
	copyOf, err := u.byAlias(ctx, alias)
	if err != nil || copyOf != nil {
		return copyOf, err
	}
	all, err := u.versions(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Source == sourceURI && all[i].Status == ml.ModelVersionStatusReady && (copyOf == nil || versionNumber(all[i].Version) > versionNumber(copyOf.Version)) {
			copyOf = &all[i]
		}
	}
	return copyOf, nil
}

// Plan fills the model plan and the alias moves of a Unity Catalog deploy:
// dev trains (or reuses the release's alias), staging and prod copy with
// the promote job (or reuse the copy the alias names).
func (u *unityCatalog) Plan(ctx context.Context, d deployment, p *PlanReport) error {
	cfg, env := u.cfg, u.cfg.Env
	alias := ReleaseAlias(d.release.Tag)
	switch {
	case env.TrainsEveryRelease():
		p.Model = ModelPlan{Action: "train", Model: cfg.Model, Detail: fmt.Sprintf("run job %s at %s; the version it registers becomes @%s", cfg.TrainingJob, release.ShortSHA(d.release.SHA), alias)}
	case d.sourceVersion != nil:
		src := d.sourceVersion
		p.Source = d.copySource(RouteUCCopy)
		p.Model = ModelPlan{Action: "promote", Model: cfg.Model, Detail: fmt.Sprintf("run job %s: copy %s v%s (record %s, %s) through Unity Catalog as a new version, @%s",
			cfg.PromoteJob, src.Name, src.Version, d.source.ID, d.source.Outcome, alias)}
	default:
		p.Model = unknownSourcePlan(cfg.Model)
	}
	if _, err := u.client.W.RegisteredModels.GetByFullName(ctx, cfg.Model); notFound(err) || permissionDenied(err) {
		return nil // not created yet (the bundle deploy does), or not readable (the catalog block says why)
	}
	if d.release.Tag != "" {
		mv, err := u.byAlias(ctx, alias)
		if err != nil {
			return err
		}
		if mv != nil {
			p.Model = ModelPlan{Action: "reuse", Model: cfg.Model, Version: mv.Version, Detail: fmt.Sprintf("@%s is v%s: %s was registered here before", alias, mv.Version, d.release.Tag)}
		}
	}
	have, err := u.aliases(ctx)
	if err != nil {
		return err
	}
	next := p.Model.Version
	if next == "" {
		next = "new"
	}
	if env.RollsOutCanary() && have[cfg.ChampionAlias] != "" && have[cfg.ChampionAlias] != next {
		// The canary first: challenger on the candidate, then champion.
		p.Aliases = append(p.Aliases, AliasMove{Alias: cfg.ChallengerAlias, From: have[cfg.ChallengerAlias], To: next})
		p.Aliases = append(p.Aliases, AliasMove{Alias: cfg.ChampionAlias, From: have[cfg.ChampionAlias], To: next}, AliasMove{Alias: cfg.ChallengerAlias, From: next})
		return nil
	}
	p.Aliases = aliasMoves(cfg, have, next, "")
	return nil
}
