package bundle

import (
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// The types in this file are the schema of databricks.yml: the decoder walks
// the YAML against their json tags, so a key that is not here is an
// "unknown field" at its line. Every field is optional at this level;
// required settings are checked explicitly with a clearer message.

// rootSchema is the whole configuration file, every section of the CLI's
// config.Root (bundle/config/root.go). Keys the CLI does not define are
// unknown fields: a warning, as in the CLI, whose root schema allows any
// extra key (teams keep YAML anchors such as common_permissions there).
type rootSchema struct {
	Bundle       bundleSection                       `json:"bundle,omitempty"`
	Include      []string                            `json:"include,omitempty"`
	Workspace    workspaceSection                    `json:"workspace,omitempty"`
	Variables    map[string]variableDef              `json:"variables,omitempty"`
	Targets      map[string]targetSection            `json:"targets,omitempty"`
	Environments map[string]targetSection            `json:"environments,omitempty"`
	Resources    resourcesSection                    `json:"resources,omitempty"`
	Presets      Presets                             `json:"presets,omitempty"`
	Permissions  []permissionOf[iam.PermissionLevel] `json:"permissions,omitempty"`
	RunAs        *RunAs                              `json:"run_as,omitempty"`
	Sync         syncSection                         `json:"sync,omitempty"`
	Artifacts    map[string]artifactSection          `json:"artifacts,omitempty"`
	Experimental *experimentalSection                `json:"experimental,omitempty"`
	Scripts      map[string]scriptSection            `json:"scripts,omitempty"`
	Python       *pythonSection                      `json:"python,omitempty"`
}

// artifactSection is one artifacts: entry, a build whose output a deploy
// uploads (a wheel or a jar).
type artifactSection struct {
	Type  string `json:"type,omitempty"`
	Path  string `json:"path,omitempty"`
	Files []struct {
		Source string `json:"source"`
	} `json:"files,omitempty"`
	Build          string `json:"build,omitempty"`
	Executable     string `json:"executable,omitempty"`
	DynamicVersion bool   `json:"dynamic_version,omitempty"`
}

// experimentalSection is experimental: (bundle/config/experimental.go).
type experimentalSection struct {
	Scripts            map[string]string `json:"scripts,omitempty"`
	ImmutableFolder    bool              `json:"immutable_folder,omitempty"`
	PythonWheelWrapper bool              `json:"python_wheel_wrapper,omitempty"`
	UseLegacyRunAs     bool              `json:"use_legacy_run_as,omitempty"`
	PyDABs             *struct {
		Enabled bool `json:"enabled,omitempty"`
	} `json:"pydabs,omitempty"`
	Python                  *pythonSection `json:"python,omitempty"`
	SkipArtifactCleanup     bool           `json:"skip_artifact_cleanup,omitempty"`
	SkipNamePrefixForSchema bool           `json:"skip_name_prefix_for_schema,omitempty"`
	RecordDeploymentHistory bool           `json:"record_deployment_history,omitempty"`
}

// pythonSection names the Python functions that define or change
// resources (python:, the databricks-bundles package). They run in the
// CLI's Python environment, which this loader does not have.
type pythonSection struct {
	Resources []string `json:"resources,omitempty"`
	Mutators  []string `json:"mutators,omitempty"`
	VenvPath  string   `json:"venv_path,omitempty"`
}

// scriptSection is one scripts: entry, a command `bundle run` can start.
type scriptSection struct {
	Content string            `json:"content"`
	Env     map[string]string `json:"env,omitempty"`
}

type bundleSection struct {
	Name                 string            `json:"name,omitempty"`
	Target               string            `json:"target,omitempty"`
	Mode                 string            `json:"mode,omitempty"`
	ClusterID            string            `json:"cluster_id,omitempty"`
	ComputeID            string            `json:"compute_id,omitempty"`
	UUID                 string            `json:"uuid,omitempty"`
	DatabricksCLIVersion string            `json:"databricks_cli_version,omitempty"`
	Engine               string            `json:"engine,omitempty"`
	Git                  gitSection        `json:"git,omitempty"`
	Deployment           deploymentSection `json:"deployment,omitempty"`
}

type gitSection struct {
	Branch    string `json:"branch,omitempty"`
	OriginURL string `json:"origin_url,omitempty"`
	Commit    string `json:"commit,omitempty"`
	// Filled by the CLI from the repository; accepted when written.
	BundleRootPath string `json:"bundle_root_path,omitempty"`
	ActualBranch   string `json:"actual_branch,omitempty"`
}

type deploymentSection struct {
	FailOnActiveRuns bool `json:"fail_on_active_runs,omitempty"`
	Lock             struct {
		Enabled *bool `json:"enabled,omitempty"`
		Force   bool  `json:"force,omitempty"`
	} `json:"lock,omitempty"`
}

type workspaceSection struct {
	Host                     string         `json:"host,omitempty"`
	Profile                  string         `json:"profile,omitempty"`
	AuthType                 string         `json:"auth_type,omitempty"`
	ClientID                 string         `json:"client_id,omitempty"`
	AzureClientID            string         `json:"azure_client_id,omitempty"`
	AzureTenantID            string         `json:"azure_tenant_id,omitempty"`
	AzureEnvironment         string         `json:"azure_environment,omitempty"`
	AzureWorkspaceResourceID string         `json:"azure_workspace_resource_id,omitempty"`
	AzureUseMSI              bool           `json:"azure_use_msi,omitempty"`
	AzureLoginAppID          string         `json:"azure_login_app_id,omitempty"`
	ExperimentalIsUnified    bool           `json:"experimental_is_unified_host,omitempty"`
	AccountID                string         `json:"account_id,omitempty"`
	WorkspaceID              string         `json:"workspace_id,omitempty"`
	GoogleServiceAccount     string         `json:"google_service_account,omitempty"`
	RootPath                 string         `json:"root_path,omitempty"`
	FilePath                 string         `json:"file_path,omitempty"`
	ArtifactPath             string         `json:"artifact_path,omitempty"`
	StatePath                string         `json:"state_path,omitempty"`
	ResourcePath             string         `json:"resource_path,omitempty"`
	CurrentUser              map[string]any `json:"current_user,omitempty"`
}

type variableDef struct {
	Description string         `json:"description,omitempty"`
	Type        string         `json:"type,omitempty"`
	Default     any            `json:"default,omitempty"`
	Lookup      *lookupSection `json:"lookup,omitempty"`
	// Value is filled in by the loader; writing it is allowed (the CLI
	// allows it too) but overridden by the resolved value.
	Value any `json:"value,omitempty"`
}

// lookupSection names a workspace object whose id a variable takes
// (bundle/config/variable/lookup.go): exactly one kind, by name.
type lookupSection struct {
	Alert                   string `json:"alert,omitempty"`
	ClusterPolicy           string `json:"cluster_policy,omitempty"`
	Cluster                 string `json:"cluster,omitempty"`
	Dashboard               string `json:"dashboard,omitempty"`
	InstancePool            string `json:"instance_pool,omitempty"`
	Job                     string `json:"job,omitempty"`
	Metastore               string `json:"metastore,omitempty"`
	NotificationDestination string `json:"notification_destination,omitempty"`
	Pipeline                string `json:"pipeline,omitempty"`
	Query                   string `json:"query,omitempty"`
	ServicePrincipal        string `json:"service_principal,omitempty"`
	Warehouse               string `json:"warehouse,omitempty"`
}

type targetSection struct {
	Default     bool                                `json:"default,omitempty"`
	Mode        string                              `json:"mode,omitempty"`
	ClusterID   string                              `json:"cluster_id,omitempty"`
	ComputeID   string                              `json:"compute_id,omitempty"`
	Git         gitSection                          `json:"git,omitempty"`
	Bundle      bundleSection                       `json:"bundle,omitempty"`
	Workspace   workspaceSection                    `json:"workspace,omitempty"`
	Variables   map[string]any                      `json:"variables,omitempty"`
	Resources   resourcesSection                    `json:"resources,omitempty"`
	Presets     Presets                             `json:"presets,omitempty"`
	Permissions []permissionOf[iam.PermissionLevel] `json:"permissions,omitempty"`
	RunAs       *RunAs                              `json:"run_as,omitempty"`
	Sync        syncSection                         `json:"sync,omitempty"`
	Artifacts   map[string]artifactSection          `json:"artifacts,omitempty"`
}

type syncSection struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	Paths   []string `json:"paths,omitempty"`
}

// Presets are the target-wide defaults the CLI applies to every resource;
// development mode fills the ones left empty.
type Presets struct {
	NamePrefix            string            `json:"name_prefix,omitempty"`
	Tags                  map[string]string `json:"tags,omitempty"`
	JobsMaxConcurrentRuns int               `json:"jobs_max_concurrent_runs,omitempty"`
	TriggerPauseStatus    string            `json:"trigger_pause_status,omitempty"`
	PipelinesDevelopment  *bool             `json:"pipelines_development,omitempty"`
	SourceLinkedDeploy    *bool             `json:"source_linked_deployment,omitempty"`
	InPlaceDeployment     *bool             `json:"in_place_deployment,omitempty"`
	ArtifactsDynamicVer   *bool             `json:"artifacts_dynamic_version,omitempty"`
}

// Permission grants a principal a level on a resource (or, at the top
// level, on every resource of the bundle). Exactly one principal is set.
type Permission struct {
	Level                string `json:"level"`
	UserName             string `json:"user_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
}

// Principal returns the one principal the permission names.
func (p Permission) Principal() string {
	switch {
	case p.UserName != "":
		return p.UserName
	case p.GroupName != "":
		return p.GroupName
	default:
		return p.ServicePrincipalName
	}
}

// RunAs is the identity jobs run as (the CLI's jobs.JobRunAs).
type RunAs struct {
	UserName             string `json:"user_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
}

// Identity returns the user, service principal or group name.
func (r RunAs) Identity() string {
	switch {
	case r.UserName != "":
		return r.UserName
	case r.ServicePrincipalName != "":
		return r.ServicePrincipalName
	}
	return r.GroupName
}

// Lifecycle holds deployment lifecycle settings of a resource.
type Lifecycle struct {
	PreventDestroy bool `json:"prevent_destroy,omitempty"`
}

// Grant gives a principal Unity Catalog privileges on a registered model.
type Grant struct {
	Principal  string   `json:"principal"`
	Privileges []string `json:"privileges"`
}

// Resource kinds, as written under resources:.
const (
	KindJobs                  = "jobs"
	KindModelServingEndpoints = "model_serving_endpoints"
	KindModels                = "models"
	KindRegisteredModels      = "registered_models"
	KindExperiments           = "experiments"
)

// knownSections are the top-level keys a ${...} reference may start with.
var knownSections = map[string]bool{
	"bundle": true, "workspace": true, "variables": true, "var": true, "resources": true,
	"presets": true, "artifacts": true, "sync": true, "permissions": true, "run_as": true,
	"include": true, "experimental": true, "scripts": true, "python": true,
}
