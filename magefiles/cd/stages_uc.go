package cd

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// CheckCatalog refuses a Unity Catalog target whose catalog or schema the
// deploying principal cannot see, before anything changes: the bundle
// deploy would otherwise fail half way, creating the model.
type CheckCatalog struct{}

// Name implements Stage.
func (CheckCatalog) Name() string { return "catalog" }

// Run implements Stage.
func (CheckCatalog) Run(ctx context.Context, s *State) error {
	cfg := s.Config
	if !cfg.UC() {
		return Skip("the bundle declares a workspace registry model (resources.models): %s", cfg.Model)
	}
	if _, err := s.Client.W.Schemas.GetByFullName(ctx, cfg.Schema); err != nil {
		if notFound(err) || permissionDenied(err) {
			return &CatalogMissingError{Env: s.Env, Host: s.Client.Host, Schema: cfg.Schema, Principal: s.Client.User, Err: err}
		}
		return fmt.Errorf("schema %s: %w", cfg.Schema, err)
	}
	s.Printf("   Unity Catalog model %s (@%s serves, @%s is the canary)\n", cfg.Model, cfg.ChampionAlias, cfg.ChallengerAlias)
	return nil
}

// skipCopied is the train and register stages' skip in an environment that
// gets its version from its source environment.
func (s *State) skipCopied() error {
	if s.Config.UC() {
		return Skip("%s's version is copied from %s's Unity Catalog model by the promote stage", s.Env, s.Source.Env)
	}
	return Skip("%s's version is copied from %s (one workspace)", s.Env, s.Source.Env)
}

// releasedBefore finds the version an earlier deploy of this release
// registered (its release alias), so a re-run serves it instead of
// training again. done reports a Skip.
func (s *State) releasedBefore(ctx context.Context) (done bool, err error) {
	cfg := s.Config
	alias := ReleaseAlias(s.Release.Tag)
	mv, err := s.byAlias(ctx, s.Client, cfg.Model, alias)
	if err != nil || mv == nil {
		return false, err
	}
	if mv, err = s.WaitVersionReady(ctx, cfg.Model, mv.Version); err != nil {
		return true, err
	}
	s.Version = mv
	s.Record.Model = &release.ModelVersionRef{Name: cfg.Model, Version: mv.Version, RunID: mv.RunId, Registry: RegistryUnityCatalog, Alias: alias}
	return true, Skip("%s@%s is v%s: %s was trained before, served again", cfg.Model, alias, mv.Version, s.Release.Tag)
}

// registerUC finds the Unity Catalog version the training run registered
// (train.py registers it: the SDK cannot create Unity Catalog versions),
// waits for READY and names it with the release alias.
func (s *State) registerUC(ctx context.Context, tr *Training) error {
	cfg := s.Config
	version, how := "", "registered by the training run"
	if tr.ReportedModel == cfg.Model && tr.ReportedVersion != "" {
		version = tr.ReportedVersion
	} else {
		// The report names no version (or another model): the run's version
		// is the one whose run_id is the MLflow run's.
		all, err := s.ucVersions(ctx, s.Client, cfg.Model)
		if err != nil {
			return err
		}
		best := 0
		for _, mv := range all {
			if n := versionNumber(mv.Version); mv.RunId == tr.MLflowRunID && n > best {
				best = n
			}
		}
		if best == 0 {
			return fmt.Errorf("training run %d (%s) registered no version of %s: none has MLflow run %s (does the training task pass --model-name %s?)",
				tr.RunID, tr.RunURL, cfg.Model, tr.MLflowRunID, cfg.Model)
		}
		version, how = strconv.Itoa(best), "found by the training run's MLflow run id"
	}
	mv, err := s.WaitVersionReady(ctx, cfg.Model, version)
	var rf *RegistrationFailedError
	if errors.As(err, &rf) {
		return fmt.Errorf("%w (training run %d: %s)", err, tr.RunID, tr.RunURL)
	}
	if err != nil {
		return err
	}
	alias := ReleaseAlias(s.Release.Tag)
	if err := s.setAlias(ctx, cfg.Model, alias, mv.Version); err != nil {
		return err
	}
	s.Version = mv
	s.Record.Model = &release.ModelVersionRef{Name: cfg.Model, Version: mv.Version, RunID: tr.MLflowRunID, JobRunID: tr.RunID, JobRunURL: tr.RunURL,
		Registry: RegistryUnityCatalog, Alias: alias}
	s.Printf("   %s v%s READY (%s), @%s\n", cfg.Model, mv.Version, how, alias)
	if err := s.pruneReleaseAliases(ctx, cfg.Model, alias); err != nil {
		return err
	}
	return s.discardUnfinished(ctx, mv.Version)
}

// attachDiscarded lists the unfinished versions a deploy deleted.
const attachDiscarded = "discarded_versions"

// discardUnfinished deletes the versions of the model still
// PENDING_REGISTRATION whose MLflow run is a training run of this release
// (train.py tags the run with the release before it logs the model): a
// training run that died mid-upload left them, and nothing will finalize
// them. Versions of other releases, or of runs that cannot be read, are
// left alone.
func (s *State) discardUnfinished(ctx context.Context, keep string) error {
	cfg := s.Config
	all, err := s.ucVersions(ctx, s.Client, cfg.Model)
	if err != nil {
		return err
	}
	var discarded []string
	_, _ = s.Record.Attachment(attachDiscarded, &discarded)
	for _, mv := range all {
		if mv.Status != ml.ModelVersionStatusPendingRegistration || mv.Version == keep || mv.RunId == "" {
			continue
		}
		run, err := s.Client.W.Experiments.GetRun(ctx, ml.GetRunRequest{RunId: mv.RunId})
		if err != nil || run.Run == nil || run.Run.Data == nil || !hasTag(run.Run.Data.Tags, "release", s.Release.Tag) {
			continue
		}
		n, err := versionInt(cfg.Model, mv.Version)
		if err != nil {
			return err
		}
		if err := s.Client.W.ModelVersions.Delete(ctx, catalog.DeleteModelVersionRequest{FullName: cfg.Model, Version: n}); err != nil && !notFound(err) {
			return fmt.Errorf("delete unfinished %s v%s: %w", cfg.Model, mv.Version, err)
		}
		discarded = append(discarded, mv.Version)
		s.Printf("   deleted %s v%s: PENDING_REGISTRATION, left by a training run of %s (MLflow run %s) that died before finalizing it\n", cfg.Model, mv.Version, s.Release.Tag, mv.RunId)
	}
	if len(discarded) == 0 {
		return nil
	}
	return s.Record.Attach(attachDiscarded, discarded)
}

func hasTag(tags []ml.RunTag, key, value string) bool {
	for _, t := range tags {
		if t.Key == key {
			return t.Value == value
		}
	}
	return false
}

// promoteUC copies the version the source environment verified into this
// environment's Unity Catalog model with the target's promote job, and
// names the copy with the release alias. The alias, or failing that a
// version whose source is the source version, is the copy of an earlier
// attempt: a re-run makes no second copy.
func (s *State) promoteUC(ctx context.Context) error {
	src, rec, cfg := s.SourceVersion, s.Source, s.Config
	alias := ReleaseAlias(s.Release.Tag)
	sourceURI := fmt.Sprintf("models:/%s/%s", src.Name, src.Version)
	how := "already copied"
	copyOf, err := s.byAlias(ctx, s.Client, cfg.Model, alias)
	if err != nil {
		return err
	}
	if copyOf == nil {
		all, err := s.ucVersions(ctx, s.Client, cfg.Model)
		if err != nil {
			return err
		}
		for i := range all {
			// Only a READY copy counts: one left PENDING by a run that died
			// mid-upload is deleted by the promote task's next run.
			if all[i].Source == sourceURI && all[i].Status == ml.ModelVersionStatusReady && (copyOf == nil || versionNumber(all[i].Version) > versionNumber(copyOf.Version)) {
				copyOf = &all[i]
			}
		}
	}
	if copyOf == nil {
		if cfg.PromoteJobKey == "" {
			return fmt.Errorf("bundle target %s declares no promote job (a job whose key mentions promote): nothing can copy %s v%s", s.Env, src.Name, src.Version)
		}
		_, run, err := s.runJobAttempt(ctx, "promotion", cfg.PromoteJobKey, cfg.PromoteJob, "promote", map[string]string{
			"source_model": src.Name, "source_version": src.Version, "release_alias": alias,
		})
		if err != nil {
			return fmt.Errorf("promote %s v%s: %w", src.Name, src.Version, err)
		}
		if copyOf, err = s.byAlias(ctx, s.Client, cfg.Model, alias); err != nil {
			return err
		}
		if copyOf == nil {
			return fmt.Errorf("promotion run %d (%s) succeeded but %s@%s is not set: the promote task sets it after copying", run.RunId, run.RunPageUrl, cfg.Model, alias)
		}
		how = fmt.Sprintf("copied by promotion run %d", run.RunId)
	}
	mv, err := s.WaitVersionReady(ctx, cfg.Model, copyOf.Version)
	if err != nil {
		return fmt.Errorf("promote %s v%s: %w", src.Name, src.Version, err)
	}
	if err := s.setAlias(ctx, cfg.Model, alias, mv.Version); err != nil {
		return err
	}
	s.Version = mv
	s.Record.Model = &release.ModelVersionRef{
		Name: cfg.Model, Version: mv.Version, RunID: src.RunId, Registry: RegistryUnityCatalog, Alias: alias,
		Source: &release.ModelSource{Env: rec.Env, Model: src.Name, Version: src.Version, Record: rec.ID, Route: RouteUCCopy},
	}
	if rec.Model != nil {
		s.Record.Model.JobRunID, s.Record.Model.JobRunURL = rec.Model.JobRunID, rec.Model.JobRunURL
	}
	s.Printf("   %s v%s -> %s v%s @%s (%s)\n", src.Name, src.Version, cfg.Model, mv.Version, alias, how)
	return s.pruneReleaseAliases(ctx, cfg.Model, alias)
}

// sourceVersionUC reads the source environment's verified version through
// this environment's client: that is what the promote job will do, so a
// missing grant on the source catalog is found here, before anything
// changes in this environment.
func (s *State) sourceVersionUC(ctx context.Context, from string, ref *release.ModelVersionRef) (*ml.ModelVersion, error) {
	mv, err := s.getVersion(ctx, s.Client, ref.Name, ref.Version)
	if permissionDenied(err) {
		return nil, &SourceGrantError{Env: s.Env, From: from, Principal: s.Client.User, Model: ref.Name, Version: ref.Version, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("%s model %s v%s: %w", from, ref.Name, ref.Version, err)
	}
	if mv.Status != ml.ModelVersionStatusReady {
		return nil, fmt.Errorf("%s model %s v%s is %s, not READY", from, ref.Name, ref.Version, mv.Status)
	}
	return mv, nil
}

// planUC fills the model plan and the alias moves of a Unity Catalog
// deploy: dev trains (or reuses the release's alias), staging and prod
// copy with the promote job (or reuse the copy the alias names).
func (s *State) planUC(ctx context.Context, p *PlanReport) error {
	cfg := s.Config
	alias := ReleaseAlias(s.Release.Tag)
	switch {
	case s.Env == EnvDev:
		p.Model = ModelPlan{Action: "train", Model: cfg.Model, Detail: fmt.Sprintf("run job %s at %s; the version it registers becomes @%s", cfg.TrainingJob, release.ShortSHA(s.Release.SHA), alias)}
	case s.SourceVersion != nil:
		src := s.SourceVersion
		p.Source = &release.ModelSource{Env: s.Source.Env, Model: src.Name, Version: src.Version, Record: s.Source.ID, Route: RouteUCCopy}
		p.Model = ModelPlan{Action: "promote", Model: cfg.Model, Detail: fmt.Sprintf("run job %s: copy %s v%s (record %s, %s) through Unity Catalog as a new version, @%s",
			cfg.PromoteJob, src.Name, src.Version, s.Source.ID, s.Source.Outcome, alias)}
	default:
		p.Model = ModelPlan{Action: "promote", Model: cfg.Model, Detail: "unknown: no verified source release (see blocks)"}
	}
	if _, err := s.Client.W.RegisteredModels.GetByFullName(ctx, cfg.Model); notFound(err) || permissionDenied(err) {
		return nil // not created yet (the bundle deploy does), or not readable (the catalog block says why)
	}
	if s.Release.Tag != "" {
		mv, err := s.byAlias(ctx, s.Client, cfg.Model, alias)
		if err != nil {
			return err
		}
		if mv != nil {
			p.Model = ModelPlan{Action: "reuse", Model: cfg.Model, Version: mv.Version, Detail: fmt.Sprintf("@%s is v%s: %s was registered here before", alias, mv.Version, s.Release.Tag)}
		}
	}
	have, err := s.Aliases(ctx, s.Client, cfg.Model)
	if err != nil {
		return err
	}
	next := p.Model.Version
	if next == "" {
		next = "new"
	}
	if s.Env == EnvProd && have[cfg.ChampionAlias] != "" && have[cfg.ChampionAlias] != next {
		// The canary first: challenger on the candidate, then champion.
		p.Aliases = append(p.Aliases, AliasMove{Alias: cfg.ChallengerAlias, From: have[cfg.ChallengerAlias], To: next})
		p.Aliases = append(p.Aliases, AliasMove{Alias: cfg.ChampionAlias, From: have[cfg.ChampionAlias], To: next}, AliasMove{Alias: cfg.ChallengerAlias, From: next})
		return nil
	}
	p.Aliases = aliasMoves(cfg, have, next, "")
	return nil
}
