package bundle

import (
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
)

// The types in this file are the schema of databricks.yml: the decoder walks
// the YAML against their json tags, so a key that is not here is an
// "unknown field" at its line. Every field is optional at this level;
// required settings are checked explicitly with a clearer message.

// rootSchema is the whole configuration file.
type rootSchema struct {
	Bundle       bundleSection            `json:"bundle,omitempty"`
	Include      []string                 `json:"include,omitempty"`
	Workspace    workspaceSection         `json:"workspace,omitempty"`
	Variables    map[string]variableDef   `json:"variables,omitempty"`
	Targets      map[string]targetSection `json:"targets,omitempty"`
	Resources    resourcesSection         `json:"resources,omitempty"`
	Presets      Presets                  `json:"presets,omitempty"`
	Permissions  []Permission             `json:"permissions,omitempty"`
	RunAs        *RunAs                   `json:"run_as,omitempty"`
	Sync         syncSection              `json:"sync,omitempty"`
	Artifacts    map[string]any           `json:"artifacts,omitempty"`
	Experimental map[string]any           `json:"experimental,omitempty"`
}

type bundleSection struct {
	Name                 string            `json:"name,omitempty"`
	Target               string            `json:"target,omitempty"`
	Mode                 string            `json:"mode,omitempty"`
	ClusterID            string            `json:"cluster_id,omitempty"`
	ComputeID            string            `json:"compute_id,omitempty"`
	UUID                 string            `json:"uuid,omitempty"`
	DatabricksCLIVersion string            `json:"databricks_cli_version,omitempty"`
	Git                  gitSection        `json:"git,omitempty"`
	Deployment           deploymentSection `json:"deployment,omitempty"`
}

type gitSection struct {
	Branch    string `json:"branch,omitempty"`
	OriginURL string `json:"origin_url,omitempty"`
	Commit    string `json:"commit,omitempty"`
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
	Lookup      map[string]any `json:"lookup,omitempty"`
	// Value is filled in by the loader; writing it is allowed (the CLI
	// allows it too) but overridden by the resolved value.
	Value any `json:"value,omitempty"`
}

type targetSection struct {
	Default     bool             `json:"default,omitempty"`
	Mode        string           `json:"mode,omitempty"`
	ClusterID   string           `json:"cluster_id,omitempty"`
	ComputeID   string           `json:"compute_id,omitempty"`
	Git         gitSection       `json:"git,omitempty"`
	Bundle      bundleSection    `json:"bundle,omitempty"`
	Workspace   workspaceSection `json:"workspace,omitempty"`
	Variables   map[string]any   `json:"variables,omitempty"`
	Resources   resourcesSection `json:"resources,omitempty"`
	Presets     Presets          `json:"presets,omitempty"`
	Permissions []Permission     `json:"permissions,omitempty"`
	RunAs       *RunAs           `json:"run_as,omitempty"`
	Sync        syncSection      `json:"sync,omitempty"`
	Artifacts   map[string]any   `json:"artifacts,omitempty"`
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

// RunAs is the identity jobs run as.
type RunAs struct {
	UserName             string `json:"user_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
}

// Identity returns the user or service principal name.
func (r RunAs) Identity() string {
	if r.UserName != "" {
		return r.UserName
	}
	return r.ServicePrincipalName
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

type resourcesSection struct {
	Jobs                  map[string]*jobConfig             `json:"jobs,omitempty"`
	ModelServingEndpoints map[string]*endpointConfig        `json:"model_serving_endpoints,omitempty"`
	Models                map[string]*modelConfig           `json:"models,omitempty"`
	RegisteredModels      map[string]*registeredModelConfig `json:"registered_models,omitempty"`
	Experiments           map[string]*experimentConfig      `json:"experiments,omitempty"`
}

// Each resource is the SDK's own request type plus the few bundle-only
// fields the CLI accepts next to it.

type jobConfig struct {
	jobs.JobSettings
	Permissions []Permission `json:"permissions,omitempty"`
	Lifecycle   *Lifecycle   `json:"lifecycle,omitempty"`
}

type endpointConfig struct {
	serving.CreateServingEndpoint
	Permissions []Permission `json:"permissions,omitempty"`
	Lifecycle   *Lifecycle   `json:"lifecycle,omitempty"`
}

type modelConfig struct {
	ml.CreateModelRequest
	Permissions []Permission `json:"permissions,omitempty"`
	Lifecycle   *Lifecycle   `json:"lifecycle,omitempty"`
}

type registeredModelConfig struct {
	catalog.CreateRegisteredModelRequest
	Grants    []Grant    `json:"grants,omitempty"`
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
}

type experimentConfig struct {
	ml.Experiment
	Permissions []Permission `json:"permissions,omitempty"`
	Lifecycle   *Lifecycle   `json:"lifecycle,omitempty"`
}

// Resource kinds, as written under resources:.
const (
	KindJobs                  = "jobs"
	KindModelServingEndpoints = "model_serving_endpoints"
	KindModels                = "models"
	KindRegisteredModels      = "registered_models"
	KindExperiments           = "experiments"
)

// resourceKinds lists the supported kinds in output order.
var resourceKinds = []string{KindJobs, KindModels, KindRegisteredModels, KindExperiments, KindModelServingEndpoints}

// cliOnlyKinds are resource kinds the Databricks CLI knows that this loader
// does not model; naming one is an error that says so, rather than an
// "unknown field".
var cliOnlyKinds = map[string]bool{
	"pipelines": true, "quality_monitors": true, "schemas": true, "volumes": true,
	"clusters": true, "dashboards": true, "apps": true, "secret_scopes": true,
	"sql_warehouses": true, "database_instances": true, "database_catalogs": true,
	"synced_database_tables": true, "alerts": true,
}

// knownSections are the top-level keys a ${...} reference may start with.
var knownSections = map[string]bool{
	"bundle": true, "workspace": true, "variables": true, "var": true, "resources": true,
	"presets": true, "artifacts": true, "sync": true, "permissions": true, "run_as": true,
	"include": true, "experimental": true,
}
