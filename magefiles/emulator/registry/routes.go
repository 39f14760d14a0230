package registry

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/filter"
)

// Routes are the workspace model registry routes databricks-sdk-go calls
// (/api/2.0/mlflow/...), or, on a workspace without the registry, every
// registry route family answering 403 PERMISSION_DENIED.
func (s *Store) Routes() []core.Route {
	if !s.enabled {
		return disabledRoutes()
	}
	const mlflow = "/api/2.0/mlflow"
	routes := []core.Route{
		{Pattern: "POST " + mlflow + "/registered-models/create", Op: "registry.models.create", Mutating: true, Handle: s.modelsCreate},
		{Pattern: "GET " + mlflow + "/databricks/registered-models/get", Op: "registry.models.get", Handle: s.modelsGet},
		{Pattern: "GET " + mlflow + "/registered-models/search", Op: "registry.models.search", Handle: s.modelsSearch},
		{Pattern: "GET " + mlflow + "/registered-models/list", Op: "registry.models.list", Handle: s.modelsList},
		{Pattern: "POST " + mlflow + "/registered-models/set-tag", Op: "registry.models.set-tag", Mutating: true, Handle: s.modelsSetTag},
		{Pattern: "DELETE " + mlflow + "/registered-models/delete-tag", Op: "registry.models.delete-tag", Mutating: true, Handle: s.modelsDeleteTag},
		{Pattern: "PATCH " + mlflow + "/registered-models/update", Op: "registry.models.update", Mutating: true, Handle: s.modelsUpdate},
		{Pattern: "DELETE " + mlflow + "/registered-models/delete", Op: "registry.models.delete", Mutating: true, Handle: s.modelsDelete},
		{Pattern: "POST " + mlflow + "/registered-models/get-latest-versions", Op: "registry.models.get-latest-versions", Handle: s.modelsLatest},
		{Pattern: "POST " + mlflow + "/model-versions/create", Op: "registry.versions.create", Mutating: true, Handle: s.versionsCreate},
		{Pattern: "GET " + mlflow + "/model-versions/get", Op: "registry.versions.get", Handle: s.versionsGet},
		{Pattern: "GET " + mlflow + "/model-versions/search", Op: "registry.versions.search", Handle: s.versionsSearch},
		{Pattern: "PATCH " + mlflow + "/model-versions/update", Op: "registry.versions.update", Mutating: true, Handle: s.versionsUpdate},
		{Pattern: "POST " + mlflow + "/model-versions/set-tag", Op: "registry.versions.set-tag", Mutating: true, Handle: s.versionsSetTag},
		{Pattern: "DELETE " + mlflow + "/model-versions/delete-tag", Op: "registry.versions.delete-tag", Mutating: true, Handle: s.versionsDeleteTag},
		{Pattern: "DELETE " + mlflow + "/model-versions/delete", Op: "registry.versions.delete", Mutating: true, Handle: s.versionsDelete},
		{Pattern: "POST " + mlflow + "/databricks/model-versions/transition-stage", Op: "registry.versions.transition-stage", Mutating: true, Handle: s.versionsTransition},
		{Pattern: "GET " + mlflow + "/model-versions/get-download-uri", Op: "registry.versions.get-download-uri", Handle: s.versionsDownloadURI},
	}
	// Answers point into the registry's state: they are encoded under its
	// lock, after the versions settle to now.
	for i := range routes {
		routes[i].Handle = core.Guarded(&s.mu, s.advance, routes[i].Handle)
	}
	return routes
}

// disabledPrefixes are the workspace model registry's route families.
var disabledPrefixes = []string{
	"/api/2.0/mlflow/registered-models/",
	"/api/2.0/mlflow/model-versions/",
	"/api/2.0/mlflow/databricks/registered-models/",
	"/api/2.0/mlflow/databricks/model-versions/",
	"/api/2.0/mlflow/transition-requests/",
	"/api/2.0/mlflow/comments/",
	"/api/2.0/mlflow/registry-webhooks/",
}

// disabledRoutes answer every registry route with the 403 of a workspace
// whose legacy registry is disabled.
func disabledRoutes() []core.Route {
	routes := make([]core.Route, len(disabledPrefixes))
	for i, p := range disabledPrefixes {
		routes[i] = core.Route{Pattern: p, Op: "registry.disabled", Serve: func(w http.ResponseWriter, _ *http.Request) {
			core.WriteError(w, errDisabled())
		}}
	}
	return routes
}

// latest returns the newest READY version of each stage, for stages (all when empty).
func (m *model) latest(stages []string) []ml.ModelVersion {
	best := map[string]*version{}
	for _, v := range m.Versions {
		if v.MV.Status != ml.ModelVersionStatusReady {
			continue
		}
		stage := v.MV.CurrentStage
		if cur, ok := best[stage]; !ok || versionNumber(v.MV.Version) > versionNumber(cur.MV.Version) {
			best[stage] = v
		}
	}
	var out []ml.ModelVersion
	for _, stage := range []string{"None", "Staging", "Production", "Archived"} {
		if v, ok := best[stage]; ok && (len(stages) == 0 || containsFold(stages, stage)) {
			out = append(out, v.MV)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

func versionNumber(v string) int {
	n, _ := strconv.Atoi(v)
	return n
}

func (m *model) view() ml.Model {
	out := m.Model
	out.LatestVersions = m.latest(nil)
	return out
}

func (s *Store) modelsCreate(r *http.Request) (any, *core.Error) {
	var req ml.CreateModelRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Name) == "" {
		return nil, core.InvalidParam("Registered model name must not be empty.")
	}
	if _, ok := s.st.Models[req.Name]; ok {
		return nil, core.AlreadyExists("Registered Model (name=%s) already exists.", req.Name)
	}
	m := s.createModel(req.Name, req.Description, req.Tags)
	v := m.view()
	return ml.CreateModelResponse{RegisteredModel: &v}, nil
}

func (s *Store) modelsGet(r *http.Request) (any, *core.Error) {
	var req ml.GetModelRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	v := m.view()
	return ml.GetModelResponse{RegisteredModelDatabricks: &ml.ModelDatabricks{
		Id: m.ID, Name: v.Name, Description: v.Description, Tags: v.Tags,
		CreationTimestamp: v.CreationTimestamp, LastUpdatedTimestamp: v.LastUpdatedTimestamp,
		LatestVersions: v.LatestVersions, UserId: v.UserId, PermissionLevel: ml.PermissionLevelCanManage,
	}}, nil
}

func modelField(m *model, key string) (string, bool) {
	if key == "name" {
		return m.Model.Name, true
	}
	if tag, ok := strings.CutPrefix(key, "tags."); ok {
		for _, t := range m.Model.Tags {
			if t.Key == tag {
				return t.Value, true
			}
		}
	}
	return "", false
}

func (s *Store) modelsSearch(r *http.Request) (any, *core.Error) {
	var req ml.SearchModelsRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	f, err := filter.Parse(req.Filter)
	if err == nil {
		err = f.KeysKnown(func(k string) bool { return k == "name" || strings.HasPrefix(k, "tags.") })
	}
	if err != nil {
		return nil, core.InvalidParam("Invalid filter '%s': %v", req.Filter, err)
	}
	var matched []*model
	for _, m := range s.st.Models {
		if f.Match(func(k string) (string, bool) { return modelField(m, k) }) {
			matched = append(matched, m)
		}
	}
	return s.modelPage(matched, req.OrderBy, req.MaxResults, req.PageToken, 100)
}

func (s *Store) modelsList(r *http.Request) (any, *core.Error) {
	var req ml.ListModelsRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	var all []*model
	for _, m := range s.st.Models {
		all = append(all, m)
	}
	resp, aerr := s.modelPage(all, nil, req.MaxResults, req.PageToken, 100)
	if aerr != nil {
		return nil, aerr
	}
	sr := resp.(ml.SearchModelsResponse)
	return ml.ListModelsResponse{RegisteredModels: sr.RegisteredModels, NextPageToken: sr.NextPageToken}, nil
}

var orderClause = regexp.MustCompile(`(?i)^\s*([a-z_]+)\s*(asc|desc)?\s*$`)

func (s *Store) modelPage(models []*model, orderBy []string, maxResults int64, token string, def int) (any, *core.Error) {
	less, aerr := orderFunc(orderBy, map[string]func(a, b *model) int{
		"name":                   func(a, b *model) int { return strings.Compare(a.Model.Name, b.Model.Name) },
		"last_updated_timestamp": func(a, b *model) int { return cmpInt(a.Model.LastUpdatedTimestamp, b.Model.LastUpdatedTimestamp) },
		"timestamp":              func(a, b *model) int { return cmpInt(a.Model.LastUpdatedTimestamp, b.Model.LastUpdatedTimestamp) },
	}, func(a, b *model) int { return strings.Compare(a.Model.Name, b.Model.Name) })
	if aerr != nil {
		return nil, aerr
	}
	sort.SliceStable(models, func(i, j int) bool { return less(models[i], models[j]) })
	limit, offset, aerr := pageArgs(maxResults, token, def, 1000)
	if aerr != nil {
		return nil, aerr
	}
	from, to, next := core.Page(len(models), offset, limit)
	resp := ml.SearchModelsResponse{NextPageToken: next}
	for _, m := range models[from:to] {
		resp.RegisteredModels = append(resp.RegisteredModels, m.view())
	}
	return resp, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// orderFunc builds a sort from order_by clauses such as "version_number DESC".
func orderFunc[T any](orderBy []string, keys map[string]func(a, b T) int, tiebreak func(a, b T) int) (func(a, b T) bool, *core.Error) {
	type clause struct {
		cmp  func(a, b T) int
		desc bool
	}
	var clauses []clause
	for _, o := range orderBy {
		m := orderClause.FindStringSubmatch(o)
		if m == nil {
			return nil, core.InvalidParam("Invalid order_by clause %q.", o)
		}
		cmp, ok := keys[strings.ToLower(m[1])]
		if !ok {
			return nil, core.InvalidParam("Invalid order_by key %q.", m[1])
		}
		clauses = append(clauses, clause{cmp, strings.EqualFold(m[2], "desc")})
	}
	return func(a, b T) bool {
		for _, c := range clauses {
			if r := c.cmp(a, b); r != 0 {
				return (r < 0) != c.desc
			}
		}
		return tiebreak(a, b) < 0
	}, nil
}

func pageArgs(maxResults int64, token string, def, limitMax int) (limit, offset int, aerr *core.Error) {
	limit = int(maxResults)
	if limit == 0 {
		limit = def
	}
	if limit < 0 || limit > limitMax {
		return 0, 0, core.InvalidParam("max_results must be between 1 and %d, got %d.", limitMax, maxResults)
	}
	offset, aerr = core.PageToken(token)
	return limit, offset, aerr
}

func setTag[T any](tags []T, key, value string, get func(T) string, mk func(k, v string) T) []T {
	for i, t := range tags {
		if get(t) == key {
			tags[i] = mk(key, value)
			return tags
		}
	}
	return append(tags, mk(key, value))
}

func deleteTag[T any](tags []T, key string, get func(T) string) ([]T, bool) {
	for i, t := range tags {
		if get(t) == key {
			return append(tags[:i:i], tags[i+1:]...), true
		}
	}
	return tags, false
}

func (s *Store) modelsSetTag(r *http.Request) (any, *core.Error) {
	var req ml.SetModelTagRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, core.InvalidParam("Tag key must not be empty.")
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	m.Model.Tags = setTag(m.Model.Tags, req.Key, req.Value,
		func(t ml.ModelTag) string { return t.Key },
		func(k, v string) ml.ModelTag { return ml.ModelTag{Key: k, Value: v} })
	m.Model.LastUpdatedTimestamp = s.clock.Now().UnixMilli()
	return nil, nil
}

func (s *Store) modelsDeleteTag(r *http.Request) (any, *core.Error) {
	var req ml.DeleteModelTagRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	var ok bool
	if m.Model.Tags, ok = deleteTag(m.Model.Tags, req.Key, func(t ml.ModelTag) string { return t.Key }); !ok {
		return nil, core.NotFound("No tag with name: %s in model %s.", req.Key, req.Name)
	}
	return nil, nil
}

func (s *Store) modelsUpdate(r *http.Request) (any, *core.Error) {
	var req ml.UpdateModelRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	m.Model.Description = req.Description
	m.Model.LastUpdatedTimestamp = s.clock.Now().UnixMilli()
	v := m.view()
	return ml.UpdateModelResponse{RegisteredModel: &v}, nil
}

func (s *Store) modelsDelete(r *http.Request) (any, *core.Error) {
	var req ml.DeleteModelRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	if _, aerr := s.model(req.Name); aerr != nil {
		return nil, aerr
	}
	delete(s.st.Models, req.Name)
	return nil, nil
}

func (s *Store) modelsLatest(r *http.Request) (any, *core.Error) {
	var req ml.GetLatestVersionsRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	return ml.GetLatestVersionsResponse{ModelVersions: m.latest(req.Stages)}, nil
}

func (s *Store) versionsCreate(r *http.Request) (any, *core.Error) {
	var req ml.CreateModelVersionRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	v, aerr := s.register(req.Name, req.Source, req.RunId, req.Description, req.Tags, false)
	if aerr != nil {
		return nil, aerr
	}
	mv := v.MV
	return ml.CreateModelVersionResponse{ModelVersion: &mv}, nil
}

func (s *Store) versionsGet(r *http.Request) (any, *core.Error) {
	var req ml.GetModelVersionRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	mv := v.MV
	return ml.GetModelVersionResponse{ModelVersion: &mv}, nil
}

func versionField(v *version, key string) (string, bool) {
	switch key {
	case "name":
		return v.MV.Name, true
	case "run_id":
		return v.MV.RunId, v.MV.RunId != ""
	case "version", "version_number":
		return v.MV.Version, true
	case "source", "source_path":
		return v.MV.Source, true
	case "current_stage":
		return v.MV.CurrentStage, true
	case "status":
		return string(v.MV.Status), true
	case "user_id":
		return v.MV.UserId, true
	}
	if tag, ok := strings.CutPrefix(key, "tags."); ok {
		for _, t := range v.MV.Tags {
			if t.Key == tag {
				return t.Value, true
			}
		}
	}
	return "", false
}

func knownVersionKey(k string) bool {
	return slices.Contains([]string{"name", "run_id", "version", "version_number", "source", "source_path", "current_stage", "status", "user_id"}, k) ||
		strings.HasPrefix(k, "tags.")
}

func (s *Store) versionsSearch(r *http.Request) (any, *core.Error) {
	var req ml.SearchModelVersionsRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	f, err := filter.Parse(req.Filter)
	if err == nil {
		err = f.KeysKnown(knownVersionKey)
	}
	if err != nil {
		return nil, core.InvalidParam("Invalid filter '%s': %v", req.Filter, err)
	}
	less, aerr := orderFunc(req.OrderBy, map[string]func(a, b *version) int{
		"name":                   func(a, b *version) int { return strings.Compare(a.MV.Name, b.MV.Name) },
		"version_number":         func(a, b *version) int { return versionNumber(a.MV.Version) - versionNumber(b.MV.Version) },
		"creation_timestamp":     func(a, b *version) int { return cmpInt(a.MV.CreationTimestamp, b.MV.CreationTimestamp) },
		"last_updated_timestamp": func(a, b *version) int { return cmpInt(a.MV.LastUpdatedTimestamp, b.MV.LastUpdatedTimestamp) },
	}, func(a, b *version) int {
		// Default order: name ascending, newest version first.
		if c := strings.Compare(a.MV.Name, b.MV.Name); c != 0 {
			return c
		}
		return versionNumber(b.MV.Version) - versionNumber(a.MV.Version)
	})
	if aerr != nil {
		return nil, aerr
	}
	limit, offset, aerr := pageArgs(req.MaxResults, req.PageToken, 10000, 10000)
	if aerr != nil {
		return nil, aerr
	}
	var matched []*version
	for _, m := range s.st.Models {
		for _, v := range m.Versions {
			if f.Match(func(k string) (string, bool) { return versionField(v, k) }) {
				matched = append(matched, v)
			}
		}
	}
	sort.SliceStable(matched, func(i, j int) bool { return less(matched[i], matched[j]) })
	from, to, next := core.Page(len(matched), offset, limit)
	resp := ml.SearchModelVersionsResponse{NextPageToken: next}
	for _, v := range matched[from:to] {
		resp.ModelVersions = append(resp.ModelVersions, v.MV)
	}
	return resp, nil
}

func (s *Store) versionsUpdate(r *http.Request) (any, *core.Error) {
	var req ml.UpdateModelVersionRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	v.MV.Description = req.Description
	v.MV.LastUpdatedTimestamp = s.clock.Now().UnixMilli()
	mv := v.MV
	return ml.UpdateModelVersionResponse{ModelVersion: &mv}, nil
}

func (s *Store) versionsSetTag(r *http.Request) (any, *core.Error) {
	var req ml.SetModelVersionTagRequest
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, core.InvalidParam("Tag key must not be empty.")
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	v.MV.Tags = setTag(v.MV.Tags, req.Key, req.Value,
		func(t ml.ModelVersionTag) string { return t.Key },
		func(k, val string) ml.ModelVersionTag { return ml.ModelVersionTag{Key: k, Value: val} })
	v.MV.LastUpdatedTimestamp = s.clock.Now().UnixMilli()
	return nil, nil
}

func (s *Store) versionsDeleteTag(r *http.Request) (any, *core.Error) {
	var req ml.DeleteModelVersionTagRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	var ok bool
	if v.MV.Tags, ok = deleteTag(v.MV.Tags, req.Key, func(t ml.ModelVersionTag) string { return t.Key }); !ok {
		return nil, core.NotFound("No tag with name: %s in model %s version %s.", req.Key, req.Name, req.Version)
	}
	return nil, nil
}

func (s *Store) versionsDelete(r *http.Request) (any, *core.Error) {
	var req ml.DeleteModelVersionRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	m, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	for i, e := range m.Versions {
		if e == v {
			m.Versions = append(m.Versions[:i:i], m.Versions[i+1:]...)
			break
		}
	}
	return nil, nil
}

var stages = map[string]string{"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}

func (s *Store) versionsTransition(r *http.Request) (any, *core.Error) {
	var req ml.TransitionModelVersionStageDatabricks
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	stage, ok := stages[strings.ToLower(req.Stage)]
	if !ok {
		return nil, core.InvalidParam("Invalid stage %q: use None, Staging, Production or Archived.", req.Stage)
	}
	m, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	if v.MV.Status != ml.ModelVersionStatusReady {
		return nil, core.InvalidState("Model version %s of %s is %s; only READY versions change stage.", v.MV.Version, v.MV.Name, v.MV.Status)
	}
	now := s.clock.Now().UnixMilli()
	if req.ArchiveExistingVersions && stage != "None" && stage != "Archived" {
		for _, other := range m.Versions {
			if other != v && other.MV.CurrentStage == stage {
				other.MV.CurrentStage, other.MV.LastUpdatedTimestamp = "Archived", now
			}
		}
	}
	v.MV.CurrentStage, v.MV.LastUpdatedTimestamp = stage, now
	var out ml.ModelVersionDatabricks
	if err := core.Convert(v.MV, &out); err != nil {
		return nil, internal("model version: %v", err)
	}
	out.PermissionLevel = ml.PermissionLevelCanManage
	return ml.TransitionStageResponse{ModelVersionDatabricks: &out}, nil
}

func (s *Store) versionsDownloadURI(r *http.Request) (any, *core.Error) {
	var req ml.GetModelVersionDownloadUriRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	return ml.GetModelVersionDownloadUriResponse{ArtifactUri: v.MV.Source}, nil
}
