package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Outcome is where a release stands in an environment.
type Outcome string

// Outcomes. A deploy record starts InProgress and ends Deployed or Failed;
// verify moves a Deployed record to Verified or VerifyFailed. The production
// rollout adds Stable, Aborted and RolledBack. A record left InProgress by a
// run that died is Superseded by whatever takes its place (another
// release's deploy, a rollback, an unlock), with who and when in its notes.
const (
	OutcomeInProgress   Outcome = "in_progress"
	OutcomeDeployed     Outcome = "deployed"
	OutcomeFailed       Outcome = "failed"
	OutcomeVerified     Outcome = "verified"
	OutcomeVerifyFailed Outcome = "verify_failed"
	OutcomeStable       Outcome = "stable"
	OutcomeAborted      Outcome = "aborted"
	OutcomeRolledBack   Outcome = "rolled_back"
	OutcomeSuperseded   Outcome = "superseded"
)

// Kind says what a record is about.
type Kind string

// Record kinds.
const (
	KindDeploy   Kind = "deploy"
	KindRollback Kind = "rollback"
)

// Record is one release in one environment: what was shipped, what the
// endpoint looked like, how verification went and how it ended. It is
// rewritten as the deploy progresses, so a crash leaves the last step done.
type Record struct {
	ID      string `json:"id"`
	Env     string `json:"env"`
	Kind    Kind   `json:"kind"`
	Release string `json:"release"`
	SHA     string `json:"sha"`
	Target  string `json:"target"`
	Host    string `json:"host"`
	Engine  string `json:"engine,omitempty"`
	// Actor is the workspace identity that deployed; Machine where it ran
	// (host name, or the CI run URL).
	Actor    string `json:"actor,omitempty"`
	Machine  string `json:"machine,omitempty"`
	Approval string `json:"approval,omitempty"`

	Model *ModelVersionRef `json:"model,omitempty"`
	// Endpoint is the endpoint's config after this release; Previous is
	// what it served before this release changed it.
	Endpoint *EndpointState `json:"endpoint,omitempty"`
	Previous *EndpointState `json:"previous_endpoint,omitempty"`
	Verify   *VerifySummary `json:"verify,omitempty"`

	Stages   []StageResult `json:"stages,omitempty"`
	Started  time.Time     `json:"started"`
	Updated  time.Time     `json:"updated"`
	Finished *time.Time    `json:"finished,omitempty"`
	Outcome  Outcome       `json:"outcome"`
	Error    string        `json:"error,omitempty"`
	Notes    []string      `json:"notes,omitempty"`

	// Attachments carry evidence other steps add (backups, canary analysis)
	// without this type knowing them; see Attach.
	Attachments map[string]json.RawMessage `json:"attachments,omitempty"`
}

// ModelVersionRef names a model version and where it came from.
type ModelVersionRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// RunID is the MLflow run that produced the model; JobRunID/JobRunURL
	// the training job run (of dev, or of this environment on the train
	// route).
	RunID     string `json:"run_id,omitempty"`
	JobRunID  int64  `json:"job_run_id,omitempty"`
	JobRunURL string `json:"job_run_url,omitempty"`
	// Source is the version this one was copied from (lineage), for promotions.
	Source *ModelSource `json:"source,omitempty"`
	// Registry is "unity-catalog" for a Unity Catalog model (Name is then
	// catalog.schema.model); empty for the workspace model registry.
	Registry string `json:"registry,omitempty"`
	// Alias is the release's alias on the version (Unity Catalog), e.g.
	// release_v1_2_0.
	Alias string `json:"alias,omitempty"`
}

// ModelSource is the lineage of a promoted version: the source
// environment's verified version and record, and the route that brought the
// release here.
type ModelSource struct {
	Env     string `json:"env"`
	Model   string `json:"model"`
	Version string `json:"version"`
	Record  string `json:"record,omitempty"` // the source env's record id
	// Route is "copy" (the source's version copied within one workspace),
	// "train" (the release trained again from the same commit in this
	// environment's own workspace, the source being another workspace) or
	// "uc-copy" (copied from the source's Unity Catalog model through the
	// shared metastore by this environment's promote job).
	// Empty in records written before routes were kept: a copy.
	Route string `json:"route,omitempty"`
}

// EndpointState is a serving endpoint's configuration as the journal keeps it.
type EndpointState struct {
	Name           string            `json:"name"`
	ServedEntities []ServedEntity    `json:"served_entities,omitempty"`
	Traffic        []Route           `json:"traffic,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Ready          string            `json:"ready,omitempty"`
	ConfigUpdate   string            `json:"config_update,omitempty"`
}

// ServedEntity is one model version an endpoint serves.
type ServedEntity struct {
	Name          string `json:"name"`
	EntityName    string `json:"entity_name"`
	EntityVersion string `json:"entity_version"`
	WorkloadSize  string `json:"workload_size,omitempty"`
	ScaleToZero   bool   `json:"scale_to_zero,omitempty"`
}

// Route sends a share of traffic to a served entity.
type Route struct {
	ServedModelName string `json:"served_model_name"`
	Percent         int    `json:"percent"`
}

// VerifySummary is the outcome of `verify:<env>` as the journal keeps it.
type VerifySummary struct {
	Passed  bool           `json:"passed"`
	At      time.Time      `json:"at"`
	Suites  []SuiteSummary `json:"suites,omitempty"`
	Reports []string       `json:"reports,omitempty"` // artifact paths
}

// SuiteSummary is one verification suite's counts.
type SuiteSummary struct {
	Name     string `json:"name"`
	Passed   bool   `json:"passed"`
	Tests    int    `json:"tests"`
	Failures int    `json:"failures"`
	Skipped  int    `json:"skipped,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// StageStatus is how a stage ended.
type StageStatus string

// Stage statuses.
const (
	StageOK      StageStatus = "ok"
	StageSkipped StageStatus = "skipped"
	StageFailed  StageStatus = "failed"
)

// StageResult is one stage's progress entry.
type StageResult struct {
	Name       string      `json:"name"`
	Status     StageStatus `json:"status"`
	Detail     string      `json:"detail,omitempty"` // skip reason or error
	Started    time.Time   `json:"started"`
	DurationMS int64       `json:"duration_ms"`
}

// Attach stores v (JSON-encoded) under key.
func (r *Record) Attach(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("attach %s to record %s: %w", key, r.ID, err)
	}
	if r.Attachments == nil {
		r.Attachments = map[string]json.RawMessage{}
	}
	r.Attachments[key] = raw
	return nil
}

// Attachment decodes the attachment under key into v; false when absent.
func (r *Record) Attachment(key string, v any) (bool, error) {
	raw, ok := r.Attachments[key]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("record %s attachment %s: %w", r.ID, key, err)
	}
	return true, nil
}

// Stage returns the progress entry for a stage, or nil.
func (r *Record) Stage(name string) *StageResult {
	for i := range r.Stages {
		if r.Stages[i].Name == name {
			return &r.Stages[i]
		}
	}
	return nil
}

// SetStage records a stage's progress, replacing an earlier entry of the
// same name (a re-run after a crash).
func (r *Record) SetStage(s StageResult) {
	if old := r.Stage(s.Name); old != nil {
		*old = s
		return
	}
	r.Stages = append(r.Stages, s)
}

// Good reports whether the record is a release that reached its
// environment and passed its checks.
func (r *Record) Good() bool {
	switch r.Outcome {
	case OutcomeVerified, OutcomeStable:
		return true
	}
	return false
}

// ErrNoRecord is returned when a journal has no matching record.
var ErrNoRecord = errors.New("no release record")

// Journal is the list of release records of one environment: files
// <Dir>/<id>.json in the workspace, with a copy in Mirror (artifacts/).
type Journal struct {
	Env string
	// Store holds the records every machine shares (the workspace).
	Store Store
	// Dir is the folder in Store, e.g. <root_path>/releases/dev.
	Dir string
	// Mirror, when set, receives a copy of every write under MirrorDir.
	Mirror    Store
	MirrorDir string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (j *Journal) now() time.Time {
	if j.Now != nil {
		return j.Now().UTC()
	}
	return time.Now().UTC()
}

// recordFile is the file of a record id.
func (j *Journal) recordFile(id string) string { return path.Join(j.Dir, id+".json") }

// newID is sortable by time: 20250102T150405.123Z-deploy-v1.2.3.
func newID(t time.Time, kind Kind, tag string) string {
	return fmt.Sprintf("%s-%s-%s", t.UTC().Format("20060102T150405.000Z"), kind, tag)
}

// Begin writes a new record: it gets an id, Started, Updated and Outcome
// InProgress unless set. The first write is create-only, so two runs never
// share an id.
func (j *Journal) Begin(ctx context.Context, r *Record) error {
	now := j.now()
	if r.Kind == "" {
		r.Kind = KindDeploy
	}
	if r.Env == "" {
		r.Env = j.Env
	}
	if r.Started.IsZero() {
		r.Started = now
	}
	if r.Outcome == "" {
		r.Outcome = OutcomeInProgress
	}
	r.Updated = now
	base := newID(r.Started, r.Kind, r.Release)
	for i := 1; ; i++ {
		r.ID = base
		if i > 1 {
			r.ID = fmt.Sprintf("%s-%d", base, i)
		}
		raw, err := encodeRecord(r)
		if err != nil {
			return err
		}
		err = j.Store.Write(ctx, j.recordFile(r.ID), raw, false)
		if errors.Is(err, ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return fmt.Errorf("journal %s: write record %s: %w", j.Env, r.ID, err)
		}
		return j.mirror(ctx, r.ID, raw)
	}
}

// Save rewrites the record (progress, outcome, verify results).
func (j *Journal) Save(ctx context.Context, r *Record) error {
	if r.ID == "" {
		return fmt.Errorf("journal %s: save a record that was never begun", j.Env)
	}
	r.Updated = j.now()
	raw, err := encodeRecord(r)
	if err != nil {
		return err
	}
	if err := j.Store.Write(ctx, j.recordFile(r.ID), raw, true); err != nil {
		return fmt.Errorf("journal %s: write record %s: %w", j.Env, r.ID, err)
	}
	return j.mirror(ctx, r.ID, raw)
}

// Finish sets the outcome (and the error, if any), stamps Finished and saves.
func (j *Journal) Finish(ctx context.Context, r *Record, outcome Outcome, cause error) error {
	now := j.now()
	r.Outcome, r.Finished = outcome, &now
	if cause != nil {
		r.Error = cause.Error()
	}
	return j.Save(ctx, r)
}

func (j *Journal) mirror(ctx context.Context, id string, raw []byte) error {
	if j.Mirror == nil {
		return nil
	}
	if err := j.Mirror.Write(ctx, path.Join(j.MirrorDir, id+".json"), raw, true); err != nil {
		return fmt.Errorf("journal %s: local copy of %s: %w", j.Env, id, err)
	}
	return nil
}

// Supersede closes the latest record when a run that died left it in
// progress: its outcome becomes Superseded, its notes say by whom, when
// and why. It returns the record it closed, nil when there was none. Call
// it holding the environment's lock, so the record's run cannot be alive.
func (j *Journal) Supersede(ctx context.Context, by, why string) (*Record, error) {
	latest, err := j.Latest(ctx)
	if errors.Is(err, ErrNoRecord) || err == nil && latest.Outcome != OutcomeInProgress {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	latest.Notes = append(latest.Notes, fmt.Sprintf("superseded at %s by %s: %s", j.now().UTC().Format(time.RFC3339), by, why))
	if err := j.Finish(ctx, latest, OutcomeSuperseded, fmt.Errorf("superseded by %s: %s", by, why)); err != nil {
		return nil, err
	}
	return latest, nil
}

func encodeRecord(r *Record) ([]byte, error) {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode record %s: %w", r.ID, err)
	}
	return append(raw, '\n'), nil
}

// IDs lists the record ids, oldest first.
func (j *Journal) IDs(ctx context.Context) ([]string, error) {
	names, err := j.Store.List(ctx, j.Dir)
	if err != nil {
		return nil, fmt.Errorf("journal %s: list %s: %w", j.Env, j.Dir, err)
	}
	var ids []string
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, ".json"); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Get reads one record.
func (j *Journal) Get(ctx context.Context, id string) (*Record, error) {
	raw, err := j.Store.Read(ctx, j.recordFile(id))
	if errors.Is(err, ErrNotExist) {
		return nil, fmt.Errorf("journal %s: record %s: %w", j.Env, id, ErrNoRecord)
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: read record %s: %w", j.Env, id, err)
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("journal %s: record %s is not valid JSON: %w", j.Env, id, err)
	}
	return &r, nil
}

// List reads every record, oldest first.
func (j *Journal) List(ctx context.Context) ([]*Record, error) {
	ids, err := j.IDs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Record, 0, len(ids))
	for _, id := range ids {
		r, err := j.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Newest returns the newest of recs (oldest first) that match accepts, or
// nil: LatestWhere over records already read.
func Newest(recs []*Record, match func(*Record) bool) *Record {
	for i := len(recs) - 1; i >= 0; i-- {
		if match(recs[i]) {
			return recs[i]
		}
	}
	return nil
}

// Latest returns the newest record, or an error wrapping ErrNoRecord.
func (j *Journal) Latest(ctx context.Context) (*Record, error) {
	return j.LatestWhere(ctx, func(*Record) bool { return true })
}

// LatestWhere returns the newest record that match accepts, reading from
// the newest backwards and stopping at the first match.
func (j *Journal) LatestWhere(ctx context.Context, match func(*Record) bool) (*Record, error) {
	ids, err := j.IDs(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(ids) - 1; i >= 0; i-- {
		r, err := j.Get(ctx, ids[i])
		if err != nil {
			return nil, err
		}
		if match(r) {
			return r, nil
		}
	}
	return nil, fmt.Errorf("journal %s (%s): %w", j.Env, j.Dir, ErrNoRecord)
}

// Update reads a record, applies change and saves it.
func (j *Journal) Update(ctx context.Context, id string, change func(*Record) error) (*Record, error) {
	r, err := j.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := change(r); err != nil {
		return nil, err
	}
	return r, j.Save(ctx, r)
}
