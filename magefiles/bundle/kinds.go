package bundle

import (
	"github.com/databricks/databricks-sdk-go/service/apps"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/compute"
	"github.com/databricks/databricks-sdk-go/service/dashboards"
	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/pipelines"
	"github.com/databricks/databricks-sdk-go/service/postgres"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/databricks/databricks-sdk-go/service/sql"
	"github.com/databricks/databricks-sdk-go/service/vectorsearch"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// The resources section as the Databricks CLI defines it
// (bundle/config/resources.go): every resource type, each decoded into the
// SDK type the CLI embeds for it (SDK v0.175.0, the version the CLI pins)
// plus the fields the CLI adds beside it (permissions with the level type
// of that resource's permissions API, grants, lifecycle, local file
// paths). The loader models jobs, models, registered_models, experiments
// and model_serving_endpoints further (see resources.go); every other type
// is checked against its schema and kept as written (Bundle.Others).

// resourceBase holds what the CLI's BaseResource lets a user write: the
// lifecycle block. (Its id is read-only and its url and modified_status
// internal: the CLI fills them, so writing them here is an unknown field.)
type resourceBase struct {
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
}

// lifecycleWithStarted is the lifecycle of resources that can be left
// running after a deploy (apps, clusters, SQL warehouses).
type lifecycleWithStarted struct {
	Lifecycle
	Started *bool `json:"started,omitempty"`
}

// jobRunLifecycle is a job run's lifecycle: when the run is triggered.
type jobRunLifecycle struct {
	Lifecycle
	Triggers []struct {
		OnBundleDeploy *bool `json:"on_bundle_deploy,omitempty"`
	} `json:"triggers,omitempty"`
}

// permissionOf is a permission entry whose level is the enum of one
// resource's permissions API, so an unknown level is caught where the
// CLI's enum check catches it.
type permissionOf[L ~string] struct {
	Level                L      `json:"level"`
	UserName             string `json:"user_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
}

// permissions converts typed entries to the Bundle's Permission.
func permissions[L ~string](in []permissionOf[L]) []Permission {
	if in == nil {
		return nil
	}
	out := make([]Permission, len(in))
	for i, p := range in {
		out[i] = Permission{Level: string(p.Level), UserName: p.UserName, GroupName: p.GroupName, ServicePrincipalName: p.ServicePrincipalName}
	}
	return out
}

// secretScopePermissionLevel is the CLI's own level type for secret scope
// ACLs (READ, WRITE, MANAGE); it has no SDK enum, so it is a plain string.
type secretScopePermissionLevel string

type resourcesSection struct {
	Jobs                  map[string]*jobConfig             `json:"jobs,omitempty"`
	JobRuns               map[string]*jobRunConfig          `json:"job_runs,omitempty"`
	Pipelines             map[string]*pipelineConfig        `json:"pipelines,omitempty"`
	Models                map[string]*modelConfig           `json:"models,omitempty"`
	Experiments           map[string]*experimentConfig      `json:"experiments,omitempty"`
	ModelServingEndpoints map[string]*endpointConfig        `json:"model_serving_endpoints,omitempty"`
	RegisteredModels      map[string]*registeredModelConfig `json:"registered_models,omitempty"`
	QualityMonitors       map[string]*qualityMonitorConfig  `json:"quality_monitors,omitempty"`
	Catalogs              map[string]*catalogConfig         `json:"catalogs,omitempty"`
	Schemas               map[string]*schemaConfig          `json:"schemas,omitempty"`
	Volumes               map[string]*volumeConfig          `json:"volumes,omitempty"`
	ExternalLocations     map[string]*externalLocConfig     `json:"external_locations,omitempty"`
	Clusters              map[string]*clusterConfig         `json:"clusters,omitempty"`
	Dashboards            map[string]*dashboardConfig       `json:"dashboards,omitempty"`
	GenieSpaces           map[string]*genieSpaceConfig      `json:"genie_spaces,omitempty"`
	Apps                  map[string]*appConfig             `json:"apps,omitempty"`
	SecretScopes          map[string]*secretScopeConfig     `json:"secret_scopes,omitempty"`
	Alerts                map[string]*alertConfig           `json:"alerts,omitempty"`
	SQLWarehouses         map[string]*sqlWarehouseConfig    `json:"sql_warehouses,omitempty"`
	DatabaseInstances     map[string]*databaseInstConfig    `json:"database_instances,omitempty"`
	DatabaseCatalogs      map[string]*databaseCatConfig     `json:"database_catalogs,omitempty"`
	SyncedDatabaseTables  map[string]*syncedTableConfig     `json:"synced_database_tables,omitempty"`
	PostgresProjects      map[string]*pgProjectConfig       `json:"postgres_projects,omitempty"`
	PostgresBranches      map[string]*pgBranchConfig        `json:"postgres_branches,omitempty"`
	PostgresEndpoints     map[string]*pgEndpointConfig      `json:"postgres_endpoints,omitempty"`
	PostgresCatalogs      map[string]*pgCatalogConfig       `json:"postgres_catalogs,omitempty"`
	PostgresDatabases     map[string]*pgDatabaseConfig      `json:"postgres_databases,omitempty"`
	PostgresRoles         map[string]*pgRoleConfig          `json:"postgres_roles,omitempty"`
	PostgresSyncedTables  map[string]*pgSyncedTableConfig   `json:"postgres_synced_tables,omitempty"`
	VectorSearchEndpoints map[string]*vsEndpointConfig      `json:"vector_search_endpoints,omitempty"`
	VectorSearchIndexes   map[string]*vsIndexConfig         `json:"vector_search_indexes,omitempty"`
	InstancePools         map[string]*instancePoolConfig    `json:"instance_pools,omitempty"`
	Secrets               map[string]*secretConfig          `json:"secrets,omitempty"`
}

// The five types the deploy reads.

type jobConfig struct {
	resourceBase
	jobs.JobSettings
	Permissions []permissionOf[jobs.JobPermissionLevel] `json:"permissions,omitempty"`
}

type endpointConfig struct {
	resourceBase
	serving.CreateServingEndpoint
	Permissions []permissionOf[serving.ServingEndpointPermissionLevel] `json:"permissions,omitempty"`
}

type modelConfig struct {
	resourceBase
	ml.CreateModelRequest
	Permissions []permissionOf[ml.RegisteredModelPermissionLevel] `json:"permissions,omitempty"`
}

type registeredModelConfig struct {
	resourceBase
	catalog.CreateRegisteredModelRequest
	Grants []Grant `json:"grants,omitempty"`
}

type experimentConfig struct {
	resourceBase
	ml.CreateExperiment
	Permissions []permissionOf[ml.ExperimentPermissionLevel] `json:"permissions,omitempty"`
}

// The types the loader checks and keeps as written.

type jobRunConfig struct {
	jobs.RunNow
	Lifecycle *jobRunLifecycle `json:"lifecycle,omitempty"`
}

type pipelineConfig struct {
	resourceBase
	pipelines.CreatePipeline
	Permissions      []permissionOf[pipelines.PipelinePermissionLevel] `json:"permissions,omitempty"`
	CascadeOnDestroy *bool                                             `json:"cascade_on_destroy,omitempty"`
}

type qualityMonitorConfig struct {
	resourceBase
	catalog.CreateMonitor
	// The SDK keeps the table name out of JSON (it is in the URL); the
	// CLI adds it, required.
	TableName string `json:"table_name"`
}

type grantsOnly struct {
	Grants []catalog.PrivilegeAssignment `json:"grants,omitempty"`
}

type catalogConfig struct {
	resourceBase
	catalog.CreateCatalog
	grantsOnly
}

type schemaConfig struct {
	resourceBase
	catalog.CreateSchema
	grantsOnly
}

type volumeConfig struct {
	resourceBase
	// The CLI makes volume_type optional (it defaults to MANAGED), although
	// the SDK's request requires it; declared first, this field wins.
	VolumeType catalog.VolumeType `json:"volume_type,omitempty"`
	catalog.CreateVolumeRequestContent
	grantsOnly
}

type externalLocConfig struct {
	resourceBase
	catalog.CreateExternalLocation
	grantsOnly
}

type clusterConfig struct {
	Lifecycle *lifecycleWithStarted `json:"lifecycle,omitempty"`
	compute.ClusterSpec
	Permissions []permissionOf[compute.ClusterPermissionLevel] `json:"permissions,omitempty"`
}

// dashboardConfig is the CLI's DashboardConfig: the fields of the SDK's
// dashboards.Dashboard with serialized_dashboard as any value (a string
// or the dashboard inline) and the request-only dataset settings.
type dashboardConfig struct {
	resourceBase
	CreateTime          string                              `json:"create_time,omitempty"`
	DashboardID         string                              `json:"dashboard_id,omitempty"`
	DisplayName         string                              `json:"display_name,omitempty"`
	Etag                string                              `json:"etag,omitempty"`
	LifecycleState      dashboards.LifecycleState           `json:"lifecycle_state,omitempty"`
	ParentPath          string                              `json:"parent_path,omitempty"`
	Path                string                              `json:"path,omitempty"`
	UpdateTime          string                              `json:"update_time,omitempty"`
	WarehouseID         string                              `json:"warehouse_id,omitempty"`
	SerializedDashboard any                                 `json:"serialized_dashboard,omitempty"`
	EmbedCredentials    bool                                `json:"embed_credentials,omitempty"`
	DatasetCatalog      string                              `json:"dataset_catalog,omitempty"`
	DatasetSchema       string                              `json:"dataset_schema,omitempty"`
	Permissions         []permissionOf[iam.PermissionLevel] `json:"permissions,omitempty"`
	FilePath            string                              `json:"file_path,omitempty"`
}

// genieSpaceConfig is the CLI's GenieSpaceConfig, a subset of the SDK's
// dashboards.GenieSpace.
type genieSpaceConfig struct {
	resourceBase
	Description     string                              `json:"description,omitempty"`
	Etag            string                              `json:"etag,omitempty"`
	Title           string                              `json:"title,omitempty"`
	WarehouseID     string                              `json:"warehouse_id,omitempty"`
	ParentPath      string                              `json:"parent_path,omitempty"`
	SerializedSpace any                                 `json:"serialized_space,omitempty"`
	Permissions     []permissionOf[iam.PermissionLevel] `json:"permissions,omitempty"`
	FilePath        string                              `json:"file_path,omitempty"`
}

type appConfig struct {
	Lifecycle *lifecycleWithStarted `json:"lifecycle,omitempty"`
	apps.App
	Config *struct {
		Command []string `json:"command,omitempty"`
		Env     []struct {
			Name      string `json:"name"`
			Value     string `json:"value,omitempty"`
			ValueFrom string `json:"value_from,omitempty"`
		} `json:"env,omitempty"`
	} `json:"config,omitempty"`
	Permissions []permissionOf[apps.AppPermissionLevel] `json:"permissions,omitempty"`
}

type secretScopeConfig struct {
	resourceBase
	Name             string                                      `json:"name"`
	Permissions      []permissionOf[secretScopePermissionLevel]  `json:"permissions,omitempty"`
	BackendType      workspace.ScopeBackendType                  `json:"backend_type,omitempty"`
	KeyvaultMetadata *workspace.AzureKeyVaultSecretScopeMetadata `json:"keyvault_metadata,omitempty"`
}

type alertConfig struct {
	resourceBase
	sql.AlertV2
	Permissions []permissionOf[iam.PermissionLevel] `json:"permissions,omitempty"`
	// FilePath is a local .dbalert.json with the alert's definition.
	FilePath string `json:"file_path,omitempty"`
}

type sqlWarehouseConfig struct {
	Lifecycle *lifecycleWithStarted `json:"lifecycle,omitempty"`
	sql.CreateWarehouseRequest
	Permissions []permissionOf[sql.WarehousePermissionLevel] `json:"permissions,omitempty"`
}

type databaseInstConfig struct {
	resourceBase
	database.DatabaseInstance
	Permissions []permissionOf[iam.PermissionLevel] `json:"permissions,omitempty"`
}

type databaseCatConfig struct {
	resourceBase
	database.DatabaseCatalog
}

type syncedTableConfig struct {
	resourceBase
	database.SyncedDatabaseTable
}

// The Lakebase (Postgres) types: the SDK's spec plus the id the user
// chooses, the parent where the resource has one, and input-only flags.

type pgProjectConfig struct {
	resourceBase
	postgres.ProjectSpec
	ProjectID     string                              `json:"project_id"`
	PurgeOnDelete bool                                `json:"purge_on_delete,omitempty"`
	Permissions   []permissionOf[iam.PermissionLevel] `json:"permissions,omitempty"`
}

type pgBranchConfig struct {
	resourceBase
	postgres.BranchSpec
	BranchID        string `json:"branch_id"`
	Parent          string `json:"parent"`
	ReplaceExisting bool   `json:"replace_existing,omitempty"`
	PurgeOnDelete   bool   `json:"purge_on_delete,omitempty"`
}

type pgEndpointConfig struct {
	resourceBase
	postgres.EndpointSpec
	EndpointID      string `json:"endpoint_id"`
	Parent          string `json:"parent"`
	ReplaceExisting bool   `json:"replace_existing,omitempty"`
}

type pgCatalogConfig struct {
	resourceBase
	postgres.CatalogCatalogSpec
	CatalogID string `json:"catalog_id"`
}

type pgDatabaseConfig struct {
	resourceBase
	postgres.DatabaseDatabaseSpec
	DatabaseID      string `json:"database_id"`
	Parent          string `json:"parent"`
	ReplaceExisting bool   `json:"replace_existing,omitempty"`
}

type pgRoleConfig struct {
	resourceBase
	postgres.RoleRoleSpec
	RoleID          string `json:"role_id"`
	Parent          string `json:"parent"`
	ReplaceExisting bool   `json:"replace_existing,omitempty"`
}

type pgSyncedTableConfig struct {
	resourceBase
	postgres.SyncedTableSyncedTableSpec
	SyncedTableID string `json:"synced_table_id"`
}

type vsEndpointConfig struct {
	resourceBase
	vectorsearch.CreateEndpoint
	Permissions []permissionOf[vectorsearch.VectorSearchEndpointPermissionLevel] `json:"permissions,omitempty"`
}

type vsIndexConfig struct {
	resourceBase
	vectorsearch.CreateVectorIndexRequest
	grantsOnly
}

type instancePoolConfig struct {
	resourceBase
	compute.CreateInstancePool
	Permissions []permissionOf[compute.InstancePoolPermissionLevel] `json:"permissions,omitempty"`
}

// secretConfig is a Unity Catalog secret (catalog.Secret), not a secret in
// a workspace secret scope.
type secretConfig struct {
	resourceBase
	catalog.Secret
	grantsOnly
}

// kindInfo describes one resource type for listings (plan, status,
// validate): its key under resources: and the fields that name an
// instance in the workspace, joined with "." when there are several
// (catalog.schema.name).
type kindInfo struct {
	Kind       string
	NameFields []string
}

// allKinds lists every resource type in the CLI's order
// (config.Resources.AllResources).
var allKinds = []kindInfo{
	{KindJobs, []string{"name"}},
	{"job_runs", []string{"job_id"}},
	{"pipelines", []string{"name"}},
	{KindModels, []string{"name"}},
	{KindExperiments, []string{"name"}},
	{KindModelServingEndpoints, []string{"name"}},
	{KindRegisteredModels, []string{"catalog_name", "schema_name", "name"}},
	{"quality_monitors", []string{"table_name"}},
	{"catalogs", []string{"name"}},
	{"schemas", []string{"catalog_name", "name"}},
	{"external_locations", []string{"name"}},
	{"clusters", []string{"cluster_name"}},
	{"dashboards", []string{"display_name"}},
	{"genie_spaces", []string{"title"}},
	{"volumes", []string{"catalog_name", "schema_name", "name"}},
	{"apps", []string{"name"}},
	{"alerts", []string{"display_name"}},
	{"secret_scopes", []string{"name"}},
	{"sql_warehouses", []string{"name"}},
	{"database_instances", []string{"name"}},
	{"database_catalogs", []string{"name"}},
	{"synced_database_tables", []string{"name"}},
	{"postgres_projects", []string{"project_id"}},
	{"postgres_branches", []string{"branch_id"}},
	{"postgres_endpoints", []string{"endpoint_id"}},
	{"postgres_catalogs", []string{"catalog_id"}},
	{"postgres_databases", []string{"database_id"}},
	{"postgres_roles", []string{"role_id"}},
	{"postgres_synced_tables", []string{"synced_table_id"}},
	{"vector_search_endpoints", []string{"name"}},
	{"vector_search_indexes", []string{"name"}},
	{"instance_pools", []string{"instance_pool_name"}},
	{"secrets", []string{"catalog_name", "schema_name", "name"}},
}

// deployedKinds are the types the deploy reads and the sdk engine
// deploys; a bundle with any other type deploys with the cli engine.
var deployedKinds = map[string]bool{
	KindJobs: true, KindModels: true, KindRegisteredModels: true,
	KindExperiments: true, KindModelServingEndpoints: true,
}
