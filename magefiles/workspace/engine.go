package workspace

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path"
	"sort"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
)

// Engine deploys a bundle target into its workspace.
type Engine interface {
	// Name is "sdk" or "cli".
	Name() string
	// Deploy uploads the files and creates or updates the resources.
	Deploy(ctx context.Context, c *Client, req DeployRequest) (*DeployResult, error)
}

// Resources are what a deploy creates or updates, as the SDK's requests,
// keyed by the bundle's resource keys.
type Resources struct {
	Jobs   map[string]*jobs.JobSettings
	Models map[string]*ml.CreateModelRequest
	// RegisteredModels are Unity Catalog models (catalog.schema.name).
	RegisteredModels map[string]RegisteredModel
	Experiments      map[string]*ml.Experiment
	Endpoints        map[string]*serving.CreateServingEndpoint
}

// RegisteredModel is a Unity Catalog model and the grants the bundle
// declares on it.
type RegisteredModel struct {
	Request *catalog.CreateRegisteredModelRequest
	Grants  []Grant
}

// FullName is catalog.schema.name.
func (m RegisteredModel) FullName() string {
	return m.Request.CatalogName + "." + m.Request.SchemaName + "." + m.Request.Name
}

// Grant gives a principal privileges on a securable.
type Grant struct {
	Principal  string
	Privileges []string
}

// DeployRequest is one target's deploy.
type DeployRequest struct {
	Target     string
	BundleRoot string // local directory with databricks.yml
	RootPath   string // workspace.root_path
	FilePath   string // where files go; default RootPath/files
	StatePath  string // where the deployment record goes; default RootPath/state
	// SyncPaths are the local folders to upload, relative to BundleRoot;
	// default src.
	SyncPaths []string
	Resources Resources
	// Tags (release, git sha, target) are added to every job, model and
	// endpoint the deploy creates or updates.
	Tags map[string]string
	// JobParameters set the defaults of the job parameters the jobs
	// declare (git_sha, release_tag), so a run started by hand carries
	// the release too. Parameters a job does not declare are not added.
	JobParameters map[string]string
	// Out receives progress lines; nil discards them.
	Out io.Writer
}

func (r DeployRequest) filePath() string {
	if r.FilePath != "" {
		return r.FilePath
	}
	return path.Join(r.RootPath, "files")
}

func (r DeployRequest) statePath() string {
	if r.StatePath != "" {
		return r.StatePath
	}
	return path.Join(r.RootPath, "state")
}

// StateFile is the deployment record of the sdk engine.
func (r DeployRequest) StateFile() string { return path.Join(r.statePath(), "sdk-deployment.json") }

func (r DeployRequest) out() io.Writer {
	if r.Out == nil {
		return io.Discard
	}
	return r.Out
}

// Action is what a deploy does (or would do) to one resource.
type Action string

// Actions.
const (
	ActionCreate    Action = "create"
	ActionUpdate    Action = "update"
	ActionAdopt     Action = "adopt" // found by name, not in the record: taken over
	ActionUnchanged Action = "unchanged"
	ActionDeferred  Action = "deferred" // left for a later stage (an endpoint with no model version yet)
	ActionRemoved   Action = "removed"  // in the last deployment, gone from the bundle: reported, not deleted
	ActionRefused   Action = "refused"  // a type this engine does not deploy: the deploy stops before any write
	ActionByCLI     Action = "cli"      // deployed by the Databricks CLI, which plans it itself
)

// Resource kinds in changes.
const (
	KindJob        = "job"
	KindModel      = "model"
	KindUCModel    = "registered_model"
	KindExperiment = "experiment"
	KindEndpoint   = "endpoint"
	KindFiles      = "files"
)

// Change is one line of a deploy or plan.
type Change struct {
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Name   string `json:"name"`
	Action Action `json:"action"`
	ID     string `json:"id,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func (c Change) String() string {
	s := fmt.Sprintf("%-8s %-10s %s", c.Action, c.Kind, c.Name)
	if c.ID != "" {
		s += " (" + c.ID + ")"
	}
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// DeployResult is what a deploy did.
type DeployResult struct {
	Engine  string   `json:"engine"`
	Changes []Change `json:"changes"`
	// JobIDs by resource key; empty for the cli engine (look jobs up by name).
	JobIDs map[string]int64 `json:"job_ids,omitempty"`
	Files  FileSync         `json:"files"`
}

// FileSync counts uploaded files.
type FileSync struct {
	Uploaded  int `json:"uploaded"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
}

// Removed lists the resources that are no longer in the bundle.
func (r *DeployResult) Removed() []Change {
	var out []Change
	for _, c := range r.Changes {
		if c.Action == ActionRemoved {
			out = append(out, c)
		}
	}
	return out
}

// Summary renders the changes, one per line, sorted by kind then name.
func (r *DeployResult) Summary() string {
	cs := append([]Change(nil), r.Changes...)
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Kind != cs[j].Kind {
			return cs[i].Kind < cs[j].Kind
		}
		return cs[i].Name < cs[j].Name
	})
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("  " + c.String() + "\n")
	}
	fmt.Fprintf(&b, "  files: %d uploaded, %d unchanged, %d deleted\n", r.Files.Uploaded, r.Files.Unchanged, r.Files.Deleted)
	return b.String()
}

// Engine names.
const (
	EngineSDK  = "sdk"
	EngineCLI  = "cli"
	EngineAuto = "auto"
)

// CLIName is the Databricks CLI executable.
const CLIName = "databricks"

// SelectEngine picks the deploy engine: "cli", "sdk", or ""/"auto" for the
// CLI when it is on PATH and the native engine otherwise. lookPath is
// exec.LookPath unless a test replaces it.
func SelectEngine(name string, lookPath func(string) (string, error)) (Engine, error) {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", EngineAuto:
		if bin, err := lookPath(CLIName); err == nil {
			return &CLIEngine{Bin: bin}, nil
		}
		return &SDKEngine{}, nil
	case EngineSDK:
		return &SDKEngine{}, nil
	case EngineCLI:
		bin, err := lookPath(CLIName)
		if err != nil {
			return nil, fmt.Errorf("deploy engine cli: the %s CLI is not on PATH: install it, or use the native engine with -engine=sdk (DEPLOY_ENGINE=sdk)", CLIName)
		}
		return &CLIEngine{Bin: bin}, nil
	}
	return nil, fmt.Errorf("unknown deploy engine %q: want sdk, cli or auto", name)
}
