package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace/forcesend"
)

// SDKEngine deploys natively through the SDK: it uploads the sync folders
// to the target's file path and creates or updates the experiments, models,
// jobs and endpoints of the bundle, keeping a deployment record in the
// workspace so a re-deploy updates instead of duplicating. It creates an
// endpoint that does not exist yet, but never changes what an existing
// endpoint serves: only tags. Served versions and traffic belong to the
// serve stage (and the production rollout).
type SDKEngine struct {
	// Now stamps the deployment record; default time.Now.
	Now func() time.Time
}

// Name implements Engine.
func (e *SDKEngine) Name() string { return EngineSDK }

// Deploy implements Engine.
func (e *SDKEngine) Deploy(ctx context.Context, c *Client, req DeployRequest) (*DeployResult, error) {
	return e.run(ctx, c, req, true)
}

// Plan reports what a deploy would change, reading the workspace only.
func Plan(ctx context.Context, c *Client, req DeployRequest) (*DeployResult, error) {
	return (&SDKEngine{}).run(ctx, c, req, false)
}

// DeploymentState is the sdk engine's record of what it deployed, stored at
// DeployRequest.StateFile() in the workspace.
type DeploymentState struct {
	Version    int                    `json:"version"`
	Target     string                 `json:"target"`
	Engine     string                 `json:"engine"`
	Tags       map[string]string      `json:"tags,omitempty"`
	DeployedBy string                 `json:"deployed_by,omitempty"`
	DeployedAt time.Time              `json:"deployed_at"`
	Jobs       map[string]DeployedJob `json:"jobs,omitempty"`
	Models     map[string]string      `json:"models,omitempty"` // key -> name
	// RegisteredModels: key -> catalog.schema.name (Unity Catalog).
	RegisteredModels map[string]string           `json:"registered_models,omitempty"`
	Experiments      map[string]DeployedResource `json:"experiments,omitempty"`
	Endpoints        map[string]string           `json:"endpoints,omitempty"` // key -> name
	Files            map[string]string           `json:"files,omitempty"`     // relative path -> sha256
}

// DeployedJob is a job the engine manages.
type DeployedJob struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Hash of the settings last applied, to skip unchanged resets.
	Hash string `json:"hash"`
}

// DeployedResource is a resource with a workspace id.
type DeployedResource struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

const stateVersion = 1

// LoadDeploymentState reads the record, or an empty one when there is none.
func LoadDeploymentState(ctx context.Context, store release.Store, file string) (*DeploymentState, error) {
	raw, err := store.Read(ctx, file)
	if errors.Is(err, release.ErrNotExist) {
		return &DeploymentState{Version: stateVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deployment record: %w", err)
	}
	var st DeploymentState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("deployment record %s is not valid JSON (delete it to start over): %w", file, err)
	}
	return &st, nil
}

type deployRun struct {
	c      *Client
	req    DeployRequest
	apply  bool
	files  Files
	old    *DeploymentState
	next   *DeploymentState
	result *DeployResult
}

func (e *SDKEngine) run(ctx context.Context, c *Client, req DeployRequest, apply bool) (res *DeployResult, err error) {
	if req.RootPath == "" {
		return nil, fmt.Errorf("deploy %s: the target has no workspace.root_path", req.Target)
	}
	files := Files{API: c.W.Workspace}
	old, err := LoadDeploymentState(ctx, files, req.StateFile())
	if err != nil {
		return nil, fmt.Errorf("deploy %s: %w", req.Target, err)
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	d := &deployRun{
		c: c, req: req, apply: apply, files: files, old: old,
		next: &DeploymentState{
			Version: stateVersion, Target: req.Target, Engine: EngineSDK, Tags: req.Tags,
			DeployedBy: c.User, DeployedAt: now().UTC(),
			Jobs: map[string]DeployedJob{}, Models: map[string]string{}, RegisteredModels: map[string]string{},
			Experiments: map[string]DeployedResource{}, Endpoints: map[string]string{}, Files: map[string]string{},
		},
		result: &DeployResult{Engine: EngineSDK, JobIDs: map[string]int64{}},
	}
	if apply {
		// Record what was done even when a step fails, so the re-run
		// updates what exists instead of creating it again.
		defer func() {
			if serr := d.saveState(ctx); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"upload files", d.syncFiles},
		{"experiments", d.experiments},
		{"models", d.models},
		{"registered models", d.registeredModels},
		{"jobs", d.jobs},
		{"endpoints", d.endpoints},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return d.result, fmt.Errorf("deploy %s: %s: %w", req.Target, s.name, err)
		}
	}
	d.removed()
	return d.result, nil
}

func (d *deployRun) add(c Change) {
	d.result.Changes = append(d.result.Changes, c)
	if d.apply && c.Action != ActionUnchanged {
		fmt.Fprintf(d.req.out(), "  %s\n", c)
	}
}

func (d *deployRun) saveState(ctx context.Context) error {
	// Carry over what this run did not get to, so nothing is forgotten.
	for k, v := range d.old.Jobs {
		if _, ok := d.next.Jobs[k]; !ok && d.req.Resources.Jobs[k] != nil {
			d.next.Jobs[k] = v
		}
	}
	raw, err := json.MarshalIndent(d.next, "", "  ")
	if err != nil {
		return err
	}
	if err := d.files.Write(ctx, d.req.StateFile(), raw, true); err != nil {
		return fmt.Errorf("deploy %s: save the deployment record: %w", d.req.Target, err)
	}
	return nil
}

// syncFiles uploads the files whose content changed since the last deploy.
func (d *deployRun) syncFiles(ctx context.Context) error {
	syncPaths := d.req.SyncPaths
	if len(syncPaths) == 0 {
		syncPaths = []string{"src"}
	}
	local := map[string]string{} // relative path -> absolute path
	for _, sp := range syncPaths {
		root := filepath.Join(d.req.BundleRoot, filepath.FromSlash(sp))
		err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := de.Name()
			if de.IsDir() {
				if p != root && (strings.HasPrefix(name, ".") || name == "__pycache__" || strings.HasSuffix(name, ".egg-info")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".pyc") || !de.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(d.req.BundleRoot, p)
			if err != nil {
				return err
			}
			local[filepath.ToSlash(rel)] = p
			return nil
		})
		if err != nil {
			return fmt.Errorf("read %s: %w", sp, err)
		}
	}
	rels := make([]string, 0, len(local))
	for rel := range local {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	madeDirs := map[string]bool{}
	for _, rel := range rels {
		data, err := os.ReadFile(local[rel])
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		if d.old.Files[rel] == hash {
			d.next.Files[rel] = hash
			d.result.Files.Unchanged++
			continue
		}
		d.result.Files.Uploaded++
		if !d.apply {
			continue
		}
		dest := path.Join(d.req.filePath(), rel)
		if dir := path.Dir(dest); !madeDirs[dir] {
			if err := d.files.Mkdirs(ctx, dir); err != nil {
				return err
			}
			madeDirs[dir] = true
		}
		if err := d.files.Write(ctx, dest, data, true); err != nil {
			return err
		}
		d.next.Files[rel] = hash
	}
	for rel := range d.old.Files {
		if _, ok := local[rel]; ok {
			continue
		}
		d.result.Files.Deleted++
		if d.apply {
			err := d.files.Delete(ctx, path.Join(d.req.filePath(), rel))
			if err != nil && !errors.Is(err, release.ErrNotExist) {
				return err
			}
		}
	}
	if n := d.result.Files.Uploaded + d.result.Files.Deleted; n > 0 || !d.apply {
		d.add(Change{Kind: KindFiles, Key: "sync", Name: d.req.filePath(), Action: fileAction(d.result.Files),
			Detail: fmt.Sprintf("%d to upload, %d unchanged, %d to delete", d.result.Files.Uploaded, d.result.Files.Unchanged, d.result.Files.Deleted)})
	}
	return nil
}

func fileAction(f FileSync) Action {
	if f.Uploaded+f.Deleted == 0 {
		return ActionUnchanged
	}
	return ActionUpdate
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (d *deployRun) experiments(ctx context.Context) error {
	for _, key := range sortedKeys(d.req.Resources.Experiments) {
		exp := d.req.Resources.Experiments[key]
		got, err := d.c.W.Experiments.GetByName(ctx, ml.GetByNameRequest{ExperimentName: exp.Name})
		switch {
		case err == nil && got.Experiment != nil:
			d.next.Experiments[key] = DeployedResource{ID: got.Experiment.ExperimentId, Name: exp.Name}
			d.add(Change{Kind: KindExperiment, Key: key, Name: exp.Name, Action: ActionUnchanged, ID: got.Experiment.ExperimentId})
			continue
		case err != nil && !notExist(err):
			return fmt.Errorf("experiment %s: %w", exp.Name, err)
		}
		ch := Change{Kind: KindExperiment, Key: key, Name: exp.Name, Action: ActionCreate}
		if d.apply {
			resp, err := d.c.W.Experiments.CreateExperiment(ctx, ml.CreateExperiment{Name: exp.Name, ArtifactLocation: exp.ArtifactLocation, Tags: exp.Tags})
			if err != nil {
				return fmt.Errorf("create experiment %s: %w", exp.Name, err)
			}
			ch.ID = resp.ExperimentId
			d.next.Experiments[key] = DeployedResource{ID: resp.ExperimentId, Name: exp.Name}
		}
		d.add(ch)
	}
	return nil
}

func (d *deployRun) models(ctx context.Context) error {
	for _, key := range sortedKeys(d.req.Resources.Models) {
		m := d.req.Resources.Models[key]
		want := map[string]string{}
		for _, t := range m.Tags {
			want[t.Key] = t.Value
		}
		for k, v := range d.req.Tags {
			want[k] = v
		}
		got, err := d.c.W.ModelRegistry.GetModel(ctx, ml.GetModelRequest{Name: m.Name})
		if err != nil && !notExist(err) {
			return fmt.Errorf("model %s: %w", m.Name, err)
		}
		if err != nil || got.RegisteredModelDatabricks == nil {
			ch := Change{Kind: KindModel, Key: key, Name: m.Name, Action: ActionCreate}
			if d.apply {
				req := *m
				req.Tags = modelTags(want)
				if _, err := d.c.W.ModelRegistry.CreateModel(ctx, req); err != nil && !exists(err) {
					return fmt.Errorf("create model %s: %w", m.Name, err)
				}
				d.next.Models[key] = m.Name
			}
			d.add(ch)
			continue
		}
		have := map[string]string{}
		for _, t := range got.RegisteredModelDatabricks.Tags {
			have[t.Key] = t.Value
		}
		var changed []string
		descChanged := m.Description != "" && m.Description != got.RegisteredModelDatabricks.Description
		if descChanged {
			changed = append(changed, "description")
		}
		for _, k := range sortedKeys(want) {
			if have[k] != want[k] {
				changed = append(changed, "tag "+k)
			}
		}
		d.next.Models[key] = m.Name
		if len(changed) == 0 {
			d.add(Change{Kind: KindModel, Key: key, Name: m.Name, Action: ActionUnchanged})
			continue
		}
		if d.apply {
			if descChanged {
				if _, err := d.c.W.ModelRegistry.UpdateModel(ctx, ml.UpdateModelRequest{Name: m.Name, Description: m.Description}); err != nil {
					return fmt.Errorf("update model %s: %w", m.Name, err)
				}
			}
			for _, k := range sortedKeys(want) {
				if have[k] == want[k] {
					continue
				}
				if err := d.c.W.ModelRegistry.SetModelTag(ctx, ml.SetModelTagRequest{Name: m.Name, Key: k, Value: want[k]}); err != nil {
					return fmt.Errorf("tag model %s: %w", m.Name, err)
				}
			}
		}
		d.add(Change{Kind: KindModel, Key: key, Name: m.Name, Action: ActionUpdate, Detail: strings.Join(changed, ", ")})
	}
	return nil
}

func modelTags(m map[string]string) []ml.ModelTag {
	var out []ml.ModelTag
	for _, k := range sortedKeys(m) {
		out = append(out, ml.ModelTag{Key: k, Value: m[k]})
	}
	return out
}

// jobSettings is the job as deployed: the bundle's settings plus the
// release tags, with the declared job parameters defaulting to the release.
func (d *deployRun) jobSettings(js *jobs.JobSettings) jobs.JobSettings {
	s := *js
	s.Tags = map[string]string{}
	for k, v := range js.Tags {
		s.Tags[k] = v
	}
	for k, v := range d.req.Tags {
		s.Tags[k] = v
	}
	s.Parameters = WithParameterDefaults(js.Parameters, d.req.JobParameters)
	return s
}

// WithParameterDefaults returns params with the defaults of the declared
// parameters named in values replaced. Undeclared names are ignored: a job
// rejects a run with parameters it does not declare.
func WithParameterDefaults(params []jobs.JobParameterDefinition, values map[string]string) []jobs.JobParameterDefinition {
	out := append([]jobs.JobParameterDefinition(nil), params...)
	for i := range out {
		if v, ok := values[out[i].Name]; ok {
			out[i].Default = v
		}
	}
	return out
}

func hashJSON(v any) string {
	raw, _ := json.Marshal(v)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

func (d *deployRun) jobs(ctx context.Context) error {
	for _, key := range sortedKeys(d.req.Resources.Jobs) {
		settings := d.jobSettings(d.req.Resources.Jobs[key])
		hash := hashJSON(settings)
		id, action, err := d.findJob(ctx, key, settings.Name)
		if err != nil {
			return err
		}
		ch := Change{Kind: KindJob, Key: key, Name: settings.Name, Action: action}
		switch action {
		case ActionCreate:
			if d.apply {
				resp, err := d.c.W.Jobs.Create(ctx, createJob(settings))
				if err != nil {
					return fmt.Errorf("create job %s: %w", settings.Name, err)
				}
				id = resp.JobId
			}
		case ActionUpdate, ActionAdopt:
			if action == ActionUpdate && d.old.Jobs[key].Hash == hash {
				ch.Action = ActionUnchanged
				break
			}
			if d.apply {
				if err := d.c.W.Jobs.Reset(ctx, jobs.ResetJob{JobId: id, NewSettings: settings}); err != nil {
					return fmt.Errorf("update job %s (%d): %w", settings.Name, id, err)
				}
			}
		}
		if id != 0 {
			ch.ID = strconv.FormatInt(id, 10)
			d.result.JobIDs[key] = id
			d.next.Jobs[key] = DeployedJob{ID: id, Name: settings.Name, Hash: hash}
		}
		d.add(ch)
	}
	return nil
}

// findJob returns the job to update: the one in the record if it still
// exists, else the one job with that name (a deploy that crashed after
// creating it), else none (create).
func (d *deployRun) findJob(ctx context.Context, key, name string) (int64, Action, error) {
	if prev, ok := d.old.Jobs[key]; ok && prev.ID != 0 {
		_, err := d.c.W.Jobs.GetByJobId(ctx, prev.ID)
		if err == nil {
			return prev.ID, ActionUpdate, nil
		}
		if !notExist(err) {
			return 0, "", fmt.Errorf("job %s (%d): %w", name, prev.ID, err)
		}
	}
	id, err := FindJobByName(ctx, d.c, name)
	if err != nil {
		return 0, "", err
	}
	if id != 0 {
		return id, ActionAdopt, nil
	}
	return 0, ActionCreate, nil
}

// FindJobByName returns the id of the one job named name, 0 when there is
// none, and an error when several share the name.
func FindJobByName(ctx context.Context, c *Client, name string) (int64, error) {
	found, err := c.W.Jobs.ListAll(ctx, jobs.ListJobsRequest{Name: name})
	if err != nil {
		return 0, fmt.Errorf("look up job %q: %w", name, err)
	}
	var ids []int64
	for _, j := range found {
		if j.Settings != nil && j.Settings.Name == name {
			ids = append(ids, j.JobId)
		}
	}
	switch len(ids) {
	case 0:
		return 0, nil
	case 1:
		return ids[0], nil
	}
	return 0, fmt.Errorf("%d jobs are named %q (ids %v): delete the duplicates so deploys know which one to update", len(ids), name, ids)
}

func createJob(s jobs.JobSettings) jobs.CreateJob {
	var cj jobs.CreateJob
	raw, _ := json.Marshal(s)
	_ = json.Unmarshal(raw, &cj)
	return cj
}

func (d *deployRun) endpoints(ctx context.Context) error {
	for _, key := range sortedKeys(d.req.Resources.Endpoints) {
		ep := d.req.Resources.Endpoints[key]
		d.next.Endpoints[key] = ep.Name
		got, err := d.c.W.ServingEndpoints.GetByName(ctx, ep.Name)
		if err != nil && !notExist(err) {
			return fmt.Errorf("endpoint %s: %w", ep.Name, err)
		}
		if err == nil {
			if err := d.endpointTags(ctx, key, ep, got); err != nil {
				return err
			}
			continue
		}
		missing, err := d.missingVersions(ctx, ep)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			d.add(Change{Kind: KindEndpoint, Key: key, Name: ep.Name, Action: ActionDeferred,
				Detail: "no model version to serve yet (" + strings.Join(missing, ", ") + "); the serve stage creates it"})
			continue
		}
		if d.apply {
			req := forcesend.CreateEndpoint(*ep)
			req.Tags = mergeEndpointTags(ep.Tags, d.req.Tags)
			if _, err := d.c.W.ServingEndpoints.Create(ctx, req); err != nil {
				return fmt.Errorf("create endpoint %s: %w", ep.Name, err)
			}
		}
		d.add(Change{Kind: KindEndpoint, Key: key, Name: ep.Name, Action: ActionCreate})
	}
	return nil
}

// missingVersions lists the served model versions the endpoint names that
// the registry does not have (READY).
func (d *deployRun) missingVersions(ctx context.Context, ep *serving.CreateServingEndpoint) ([]string, error) {
	if ep.Config == nil || len(ep.Config.ServedEntities)+len(ep.Config.ServedModels) == 0 {
		return []string{"no served entities"}, nil
	}
	type ref struct{ name, version string }
	var refs []ref
	for _, e := range ep.Config.ServedEntities {
		refs = append(refs, ref{e.EntityName, e.EntityVersion})
	}
	for _, m := range ep.Config.ServedModels {
		refs = append(refs, ref{m.ModelName, m.ModelVersion})
	}
	var missing []string
	for _, r := range refs {
		if r.name == "" || r.version == "" {
			missing = append(missing, fmt.Sprintf("%s version %q", r.name, r.version))
			continue
		}
		ready, err := d.versionReady(ctx, r.name, r.version)
		if notExist(err) || (err == nil && !ready) {
			missing = append(missing, r.name+" v"+r.version)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("model %s v%s: %w", r.name, r.version, err)
		}
	}
	return missing, nil
}

// versionReady reads a served version from the registry its name points
// at: a three-level name is a Unity Catalog model.
func (d *deployRun) versionReady(ctx context.Context, name, version string) (bool, error) {
	if strings.Count(name, ".") == 2 {
		n, err := strconv.Atoi(version)
		if err != nil {
			return false, nil
		}
		mv, err := d.c.W.ModelVersions.Get(ctx, catalog.GetModelVersionRequest{FullName: name, Version: n})
		if err != nil {
			return false, err
		}
		return mv.Status == catalog.ModelVersionInfoStatusReady, nil
	}
	mv, err := d.c.W.ModelRegistry.GetModelVersion(ctx, ml.GetModelVersionRequest{Name: name, Version: version})
	if err != nil {
		return false, err
	}
	return mv.ModelVersion != nil && mv.ModelVersion.Status == ml.ModelVersionStatusReady, nil
}

// endpointTags brings an existing endpoint's own tags (the bundle's) up to
// date; what it serves is left alone, and so are the release tags
// (DeployRequest.Tags): they name the release the endpoint serves, which
// only the serve and rollout stages change, once the release has all the
// traffic.
func (d *deployRun) endpointTags(ctx context.Context, key string, ep *serving.CreateServingEndpoint, got *serving.ServingEndpointDetailed) error {
	want := mergeEndpointTags(ep.Tags, nil)
	have := map[string]string{}
	for _, t := range got.Tags {
		have[t.Key] = t.Value
	}
	var add []serving.EndpointTag
	for _, t := range want {
		if have[t.Key] != t.Value {
			add = append(add, t)
		}
	}
	ch := Change{Kind: KindEndpoint, Key: key, Name: ep.Name, Action: ActionUnchanged,
		Detail: "exists; served versions and traffic are left to the serve stage"}
	if len(add) > 0 {
		ch.Action = ActionUpdate
		ch.Detail = fmt.Sprintf("%d tag(s); served versions and traffic are left to the serve stage", len(add))
		if d.apply {
			// Tags are metadata: a workspace that refuses them gets a
			// warning in the change, not a failed deploy.
			if _, err := d.c.W.ServingEndpoints.Patch(ctx, serving.PatchServingEndpointTags{Name: ep.Name, AddTags: add}); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				ch.Detail += fmt.Sprintf("; warning: tags not set: %v", err)
			}
		}
	}
	if err := d.endpointGateway(ctx, ep, got, &ch); err != nil {
		return err
	}
	d.add(ch)
	return nil
}

// endpointGateway brings an existing endpoint's AI Gateway settings (its
// inference table among them) to the bundle's, through the service's own
// call for them (PUT .../ai-gateway); a bundle that declares none leaves
// the endpoint's alone.
func (d *deployRun) endpointGateway(ctx context.Context, ep *serving.CreateServingEndpoint, got *serving.ServingEndpointDetailed, ch *Change) error {
	want := ep.AiGateway
	if want == nil || sameJSON(want, got.AiGateway) {
		return nil
	}
	ch.Action = ActionUpdate
	ch.Detail = "ai_gateway; " + ch.Detail
	if !d.apply {
		return nil
	}
	_, err := d.c.W.ServingEndpoints.PutAiGateway(ctx, serving.PutAiGatewayRequest{
		Name: ep.Name, FallbackConfig: want.FallbackConfig, Guardrails: want.Guardrails,
		InferenceTableConfig: want.InferenceTableConfig, RateLimits: want.RateLimits, UsageTrackingConfig: want.UsageTrackingConfig,
	})
	if err != nil {
		return fmt.Errorf("endpoint %s: ai_gateway: %w", ep.Name, err)
	}
	return nil
}

// sameJSON compares two values by their JSON encoding.
func sameJSON(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}

func mergeEndpointTags(base []serving.EndpointTag, extra map[string]string) []serving.EndpointTag {
	m := map[string]string{}
	for _, t := range base {
		m[t.Key] = t.Value
	}
	for k, v := range extra {
		m[k] = v
	}
	var out []serving.EndpointTag
	for _, k := range sortedKeys(m) {
		out = append(out, serving.EndpointTag{Key: k, Value: m[k]})
	}
	return out
}

// removed reports resources of the last deployment the bundle no longer
// declares. They are not deleted: removing a model or endpoint is a
// decision for a person.
func (d *deployRun) removed() {
	for _, k := range sortedKeys(d.old.Jobs) {
		if _, ok := d.req.Resources.Jobs[k]; !ok {
			j := d.old.Jobs[k]
			d.add(Change{Kind: KindJob, Key: k, Name: j.Name, Action: ActionRemoved, ID: strconv.FormatInt(j.ID, 10),
				Detail: "no longer in the bundle; left in the workspace (delete it by hand if unused)"})
		}
	}
	for _, k := range sortedKeys(d.old.Models) {
		if _, ok := d.req.Resources.Models[k]; !ok {
			d.add(Change{Kind: KindModel, Key: k, Name: d.old.Models[k], Action: ActionRemoved, Detail: "no longer in the bundle; left in the registry"})
		}
	}
	for _, k := range sortedKeys(d.old.RegisteredModels) {
		if _, ok := d.req.Resources.RegisteredModels[k]; !ok {
			d.add(Change{Kind: KindUCModel, Key: k, Name: d.old.RegisteredModels[k], Action: ActionRemoved, Detail: "no longer in the bundle; left in Unity Catalog"})
		}
	}
	for _, k := range sortedKeys(d.old.Experiments) {
		if _, ok := d.req.Resources.Experiments[k]; !ok {
			d.add(Change{Kind: KindExperiment, Key: k, Name: d.old.Experiments[k].Name, Action: ActionRemoved, Detail: "no longer in the bundle; left in the workspace"})
		}
	}
	for _, k := range sortedKeys(d.old.Endpoints) {
		if _, ok := d.req.Resources.Endpoints[k]; !ok {
			d.add(Change{Kind: KindEndpoint, Key: k, Name: d.old.Endpoints[k], Action: ActionRemoved, Detail: "no longer in the bundle; still serving"})
		}
	}
}
