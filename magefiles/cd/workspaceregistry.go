package cd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// workspaceRegistry is the ModelRegistry of a target that declares a
// workspace registry model (resources.models), for workspaces that still
// have the legacy registry. A version belongs to its workspace (it points
// at an MLflow run there), carries the release as tags instead of aliases,
// and is registered or copied through the SDK.
type workspaceRegistry struct {
	registryBase
	// timeout bounds the wait for a version to become READY.
	timeout time.Duration
}

// ModelArtifactPath is where the training job logs the model in its MLflow
// run (train.py's log_model).
const ModelArtifactPath = "agent"

// CheckCatalog skips: a workspace registry model needs no catalog.
func (r *workspaceRegistry) CheckCatalog(context.Context) error {
	return Skip("the bundle declares a workspace registry model (resources.models): %s", r.cfg.Model)
}

// Version implements ModelRegistry.
func (r *workspaceRegistry) Version(ctx context.Context, model, version string) (*ml.ModelVersion, error) {
	resp, err := r.client.W.ModelRegistry.GetModelVersion(ctx, ml.GetModelVersionRequest{Name: model, Version: version})
	if err != nil {
		return nil, err
	}
	if resp.ModelVersion == nil {
		return nil, fmt.Errorf("model %s v%s: empty answer", model, version)
	}
	return resp.ModelVersion, nil
}

// WaitReady polls the version until READY (the SDK has no waiter for it),
// backing off like the SDK's waiters.
func (r *workspaceRegistry) WaitReady(ctx context.Context, model, version string) (*ml.ModelVersion, error) {
	p := r.run.StartWait(fmt.Sprintf("%s v%s", model, version))
	defer p.Done()
	var mv *ml.ModelVersion
	err := r.run.PollUntil(ctx, r.timeout, p, func() (string, error) {
		got, err := r.Version(ctx, model, version)
		if err != nil {
			return "error", fmt.Errorf("read %s v%s: %w", model, version, err)
		}
		mv = got
		switch mv.Status {
		case ml.ModelVersionStatusReady:
			return string(mv.Status), nil
		case ml.ModelVersionStatusFailedRegistration:
			return string(mv.Status), &RegistrationFailedError{Model: model, Version: version, Message: mv.StatusMessage}
		}
		return string(mv.Status), ErrStillWaiting
	})
	if err != nil {
		return nil, err
	}
	return mv, nil
}

// Route copies within one workspace and trains in this one when the
// source is another workspace (refused when this target cannot train):
// a workspace registry's version points at an MLflow run of its own
// workspace. Two hosts may name one workspace (an alias), so differing
// hosts are compared by workspace id (SCIM Me's X-Databricks-Org-Id
// header).
func (r *workspaceRegistry) Route(ctx context.Context, from string, src *workspace.Client) (string, error) {
	here, env := r.client, r.cfg.Env
	if here == nil || src == nil || src == here || workspace.SameHost(src.Host, here.Host) {
		return RouteCopy, nil
	}
	id, err := here.W.CurrentWorkspaceID(ctx)
	if err != nil {
		return "", fmt.Errorf("workspace id of %s (%s): %w", env, here.Host, err)
	}
	fromID, err := src.W.CurrentWorkspaceID(ctx)
	if err != nil {
		return "", fmt.Errorf("workspace id of %s (%s): %w", from, src.Host, err)
	}
	if id == fromID {
		return RouteCopy, nil
	}
	if why := r.cfg.cannotTrain(); why != "" {
		return "", &CrossWorkspaceError{Env: env.Name(), From: from, Host: here.Host, FromHost: src.Host, WorkspaceID: id, FromID: fromID, Why: why}
	}
	return RouteTrain, nil
}

// SourceVersion reads the version with the source environment's client:
// it is in the source's workspace.
func (r *workspaceRegistry) SourceVersion(ctx context.Context, from string, src *workspace.Client, rec *release.Record) (*ml.ModelVersion, error) {
	resp, err := src.W.ModelRegistry.GetModelVersion(ctx, ml.GetModelVersionRequest{Name: rec.Model.Name, Version: rec.Model.Version})
	if err != nil {
		return nil, fmt.Errorf("%s model %s v%s (record %s): %w", from, rec.Model.Name, rec.Model.Version, rec.ID, err)
	}
	mv := resp.ModelVersion
	if mv == nil || mv.Status != ml.ModelVersionStatusReady {
		return nil, fmt.Errorf("%s model %s v%s is not READY", from, rec.Model.Name, rec.Model.Version)
	}
	return mv, nil
}

// RegisteredBefore finds the version an earlier deploy of this release
// trained in this workspace on the train route (same release, commit and
// source environment); dev's versions are never reused.
func (r *workspaceRegistry) RegisteredBefore(ctx context.Context, d deployment) (*Registered, error) {
	if d.source == nil {
		return nil, nil
	}
	found, err := r.findVersion(ctx, func(mv ml.ModelVersion) bool { return trainedFor(mv, d) })
	if err != nil || found == nil {
		return nil, err
	}
	mv, err := r.WaitReady(ctx, found.Name, found.Version)
	if err != nil {
		return nil, err
	}
	return &Registered{
		Version: mv,
		Ref:     d.lineage(&release.ModelVersionRef{Name: r.cfg.Model, Version: mv.Version, RunID: mv.RunId, JobRunID: jobRunOf(mv)}),
		How:     fmt.Sprintf("%s v%s was trained in %s for %s at %s before: served again", r.cfg.Model, mv.Version, r.cfg.Env, d.release.Tag, release.ShortSHA(d.release.SHA)),
	}, nil
}

// trainedFor reports whether mv was trained for d's release on the train
// route, and did not fail registration.
func trainedFor(mv ml.ModelVersion, d deployment) bool {
	t := tagMap(mv.Tags)
	return t[TagRoute] == RouteTrain && t[TagRelease] == d.release.Tag && t[TagGitSHA] == d.release.SHA &&
		t[TagSourceEnv] == d.source.Env && usable(mv)
}

// copiedFrom reports whether mv is a copy of src that did not fail
// registration.
func copiedFrom(mv ml.ModelVersion, src *ml.ModelVersion) bool {
	t := tagMap(mv.Tags)
	return t[TagSourceModel] == src.Name && t[TagSourceVersion] == src.Version && usable(mv)
}

// Register makes the trained model a READY version tagged with the
// release: the version train.py registered, or one registered here from
// the MLflow run (found again on a re-run).
func (r *workspaceRegistry) Register(ctx context.Context, d deployment, tr *Training) (*Registered, error) {
	model := r.cfg.Model
	tags := releaseTags(d.release, r.cfg.Env)
	tags[TagJobRunID] = strconv.FormatInt(tr.RunID, 10)
	if d.source != nil {
		tags[TagSourceEnv], tags[TagSourceRecord], tags[TagRoute] = d.source.Env, d.source.ID, RouteTrain
	}

	var mv *ml.ModelVersion
	how := "registered by the training run"
	if tr.ReportedVersion != "" && tr.ReportedModel == model {
		var err error
		mv, err = r.WaitReady(ctx, model, tr.ReportedVersion)
		var rf *RegistrationFailedError
		switch {
		case errors.As(err, &rf):
			// The run's own registration died: register the run again below.
			r.run.Printf("   %v; registering the MLflow run again\n", err)
			mv = nil
		case err != nil:
			return nil, err
		}
	}
	if mv == nil {
		version := ""
		found, err := r.findVersion(ctx, func(mv ml.ModelVersion) bool { return mv.RunId == tr.MLflowRunID && usable(mv) })
		if err != nil {
			return nil, err
		}
		if found != nil {
			version, how = found.Version, "found from an earlier attempt"
		} else {
			resp, err := r.client.W.ModelRegistry.CreateModelVersion(ctx, ml.CreateModelVersionRequest{
				Name: model, Source: "runs:/" + tr.MLflowRunID + "/" + ModelArtifactPath, RunId: tr.MLflowRunID,
				Description: fmt.Sprintf("%s (%s), training run %d", d.release.Tag, release.ShortSHA(d.release.SHA), tr.RunID),
				Tags:        versionTags(tags),
			})
			if err != nil {
				return nil, fmt.Errorf("register MLflow run %s as a version of %s: %w", tr.MLflowRunID, model, err)
			}
			version, how = resp.ModelVersion.Version, "registered from the MLflow run"
		}
		if mv, err = r.WaitReady(ctx, model, version); err != nil {
			return nil, err
		}
	}
	if err := r.setVersionTags(ctx, mv, tags); err != nil {
		return nil, err
	}
	r.run.Printf("   %s v%s READY (%s)\n", model, mv.Version, how)
	return &Registered{Version: mv, Ref: d.lineage(&release.ModelVersionRef{Name: model, Version: mv.Version, RunID: tr.MLflowRunID, JobRunID: tr.RunID, JobRunURL: tr.RunURL})}, nil
}

// Promote copies the version the source environment verified into this
// environment's model, with lineage tags; a re-run finds the copy by its
// tags instead of making another.
func (r *workspaceRegistry) Promote(ctx context.Context, d deployment) (*Registered, error) {
	src, rec, model := d.sourceVersion, d.source, r.cfg.Model
	tags := releaseTags(d.release, r.cfg.Env)
	tags[TagSourceEnv] = rec.Env
	tags[TagSourceModel] = src.Name
	tags[TagSourceVersion] = src.Version
	tags[TagSourceRecord] = rec.ID
	if v := tagMap(src.Tags)[TagJobRunID]; v != "" {
		tags[TagJobRunID] = v
	}
	found, err := r.findVersion(ctx, func(mv ml.ModelVersion) bool { return copiedFrom(mv, src) })
	if err != nil {
		return nil, err
	}
	version, how := "", ""
	if found != nil {
		version, how = found.Version, "already copied"
	} else {
		if version, err = r.copyVersion(ctx, src, ml.CreateModelVersionRequest{
			Name: model, Source: src.Source, RunId: src.RunId,
			Description: fmt.Sprintf("%s promoted from %s %s v%s", d.release.Tag, rec.Env, src.Name, src.Version),
			Tags:        versionTags(tags),
		}); err != nil {
			return nil, err
		}
		how = "copied"
	}
	mv, err := r.WaitReady(ctx, model, version)
	if err != nil {
		return nil, fmt.Errorf("promote %s v%s: %w", src.Name, src.Version, err)
	}
	r.run.Printf("   %s v%s -> %s v%s (%s)\n", src.Name, src.Version, model, mv.Version, how)
	return &Registered{Version: mv, Ref: d.copyRef(model, mv.Version, RouteCopy)}, nil
}

// copyVersion creates req, the copy of src, and returns its version. The
// registered model may be missing (an engine that did not create it): then
// it is created and the copy tried once more.
func (r *workspaceRegistry) copyVersion(ctx context.Context, src *ml.ModelVersion, req ml.CreateModelVersionRequest) (string, error) {
	reg := r.client.W.ModelRegistry
	resp, err := reg.CreateModelVersion(ctx, req)
	if errors.Is(err, apierr.ErrNotFound) {
		if _, gerr := reg.GetModel(ctx, ml.GetModelRequest{Name: req.Name}); errors.Is(gerr, apierr.ErrNotFound) {
			if _, cerr := reg.CreateModel(ctx, ml.CreateModelRequest{Name: req.Name}); cerr != nil {
				return "", fmt.Errorf("create model %s: %w", req.Name, cerr)
			}
			resp, err = reg.CreateModelVersion(ctx, req)
		}
	}
	if err != nil {
		return "", fmt.Errorf("promote %s v%s into %s: %w", src.Name, src.Version, req.Name, err)
	}
	return resp.ModelVersion.Version, nil
}

// MoveAliases does nothing: workspace registry versions carry the release
// as tags, set when they are registered or copied.
func (r *workspaceRegistry) MoveAliases(context.Context, *serving.ServingEndpointDetailed) error {
	return nil
}

// MoveAliasesLive does nothing (see MoveAliases), reading nothing.
func (r *workspaceRegistry) MoveAliasesLive(context.Context) error { return nil }

// Aliases is nil: the workspace registry has none.
func (r *workspaceRegistry) Aliases(context.Context) (map[string]string, error) { return nil, nil }

// Plan fills the model plan: dev trains; staging and prod copy within one
// workspace or train in their own (reusing the version an earlier deploy
// of the release made).
func (r *workspaceRegistry) Plan(ctx context.Context, d deployment, p *PlanReport) error {
	cfg, env, sha := r.cfg, r.cfg.Env, release.ShortSHA(d.release.SHA)
	src := d.sourceVersion
	switch {
	case env.TrainsEveryRelease():
		p.Model = ModelPlan{Action: "train", Model: cfg.Model, Detail: fmt.Sprintf("run job %s at %s, register the result as a new version", cfg.TrainingJob, sha)}
	case src != nil && d.route == RouteTrain:
		p.Source = d.copySource(RouteTrain)
		p.Model = ModelPlan{Action: "train", Model: cfg.Model, Detail: fmt.Sprintf("%s (%s verified it: %s v%s, record %s); run job %s at %s, register the result as a new version",
			crossReason(env, d.release.Tag), d.source.Env, src.Name, src.Version, d.source.ID, cfg.TrainingJob, sha)}
		if d.version == nil {
			if earlier, err := r.findVersion(ctx, func(mv ml.ModelVersion) bool { return trainedFor(mv, d) }); err == nil && earlier != nil {
				p.Model = ModelPlan{Action: "reuse", Model: cfg.Model, Version: earlier.Version, Detail: fmt.Sprintf("v%s was trained in %s for %s before", earlier.Version, env, d.release.Tag)}
			}
		}
	case src != nil:
		p.Source = d.copySource(RouteCopy)
		p.Model = ModelPlan{Action: "promote", Model: cfg.Model, Detail: fmt.Sprintf("copy %s %s v%s (record %s, %s) as a new version", d.source.Env, src.Name, src.Version, d.source.ID, d.source.Outcome)}
		if d.version == nil {
			if copyOf, err := r.findVersion(ctx, func(mv ml.ModelVersion) bool { return copiedFrom(mv, src) }); err == nil && copyOf != nil {
				p.Model = ModelPlan{Action: "reuse", Model: cfg.Model, Version: copyOf.Version, Detail: fmt.Sprintf("v%s is already the copy of %s v%s", copyOf.Version, src.Name, src.Version)}
			}
		}
	default:
		p.Model = unknownSourcePlan(cfg.Model)
	}
	return nil
}

// findVersion returns the newest version of the model that match accepts.
func (r *workspaceRegistry) findVersion(ctx context.Context, match func(ml.ModelVersion) bool) (*ml.ModelVersion, error) {
	model := r.cfg.Model
	all, err := r.client.W.ModelRegistry.SearchModelVersionsAll(ctx, ml.SearchModelVersionsRequest{Filter: fmt.Sprintf("name='%s'", strings.ReplaceAll(model, "'", "\\'"))})
	if err != nil {
		return nil, fmt.Errorf("search versions of %s: %w", model, err)
	}
	var best *ml.ModelVersion
	for i := range all {
		if all[i].Name != model || !match(all[i]) {
			continue
		}
		if best == nil || versionNumber(all[i].Version) > versionNumber(best.Version) {
			best = &all[i]
		}
	}
	return best, nil
}

// setVersionTags sets the tags a version lacks or has with other values.
func (r *workspaceRegistry) setVersionTags(ctx context.Context, mv *ml.ModelVersion, want map[string]string) error {
	have := tagMap(mv.Tags)
	keys := slices.Sorted(maps.Keys(want))
	for _, k := range keys {
		if have[k] == want[k] {
			continue
		}
		err := r.client.W.ModelRegistry.SetModelVersionTag(ctx, ml.SetModelVersionTagRequest{Name: mv.Name, Version: mv.Version, Key: k, Value: want[k]})
		if err != nil {
			return fmt.Errorf("tag %s v%s with %s: %w", mv.Name, mv.Version, k, err)
		}
		mv.Tags = append(mv.Tags, ml.ModelVersionTag{Key: k, Value: want[k]})
	}
	return nil
}

func versionTags(m map[string]string) []ml.ModelVersionTag {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]ml.ModelVersionTag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ml.ModelVersionTag{Key: k, Value: m[k]})
	}
	return out
}

func tagMap(tags []ml.ModelVersionTag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// usable excludes versions whose registration failed: a re-run makes a new
// copy rather than waiting on a dead one.
func usable(mv ml.ModelVersion) bool { return mv.Status != ml.ModelVersionStatusFailedRegistration }

// jobRunOf is the training job run a version's tags name (0 if none).
func jobRunOf(mv *ml.ModelVersion) int64 {
	id, _ := strconv.ParseInt(tagMap(mv.Tags)[TagJobRunID], 10, 64)
	return id
}
