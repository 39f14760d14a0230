package emulator

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/filter"
)

// The workspace model registry (/api/2.0/mlflow/...). Versions are created
// PENDING_REGISTRATION and become READY after Durations.ModelRegistration,
// or FAILED_REGISTRATION when the source has no model or a failure is
// scripted (FailNextRegistration).

func (s *Server) registerRegistry() {
	if !s.opts.LegacyRegistry {
		s.registerLegacyRegistryDisabled()
		return
	}
	s.handleJSON("POST /api/2.0/mlflow/registered-models/create", "registry.models.create", true, s.modelsCreate)
	s.handleJSON("GET /api/2.0/mlflow/databricks/registered-models/get", "registry.models.get", false, s.modelsGet)
	s.handleJSON("GET /api/2.0/mlflow/registered-models/search", "registry.models.search", false, s.modelsSearch)
	s.handleJSON("GET /api/2.0/mlflow/registered-models/list", "registry.models.list", false, s.modelsList)
	s.handleJSON("POST /api/2.0/mlflow/registered-models/set-tag", "registry.models.set-tag", true, s.modelsSetTag)
	s.handleJSON("DELETE /api/2.0/mlflow/registered-models/delete-tag", "registry.models.delete-tag", true, s.modelsDeleteTag)
	s.handleJSON("PATCH /api/2.0/mlflow/registered-models/update", "registry.models.update", true, s.modelsUpdate)
	s.handleJSON("DELETE /api/2.0/mlflow/registered-models/delete", "registry.models.delete", true, s.modelsDelete)
	s.handleJSON("POST /api/2.0/mlflow/registered-models/get-latest-versions", "registry.models.get-latest-versions", false, s.modelsLatest)
	s.handleJSON("POST /api/2.0/mlflow/model-versions/create", "registry.versions.create", true, s.versionsCreate)
	s.handleJSON("GET /api/2.0/mlflow/model-versions/get", "registry.versions.get", false, s.versionsGet)
	s.handleJSON("GET /api/2.0/mlflow/model-versions/search", "registry.versions.search", false, s.versionsSearch)
	s.handleJSON("PATCH /api/2.0/mlflow/model-versions/update", "registry.versions.update", true, s.versionsUpdate)
	s.handleJSON("POST /api/2.0/mlflow/model-versions/set-tag", "registry.versions.set-tag", true, s.versionsSetTag)
	s.handleJSON("DELETE /api/2.0/mlflow/model-versions/delete-tag", "registry.versions.delete-tag", true, s.versionsDeleteTag)
	s.handleJSON("DELETE /api/2.0/mlflow/model-versions/delete", "registry.versions.delete", true, s.versionsDelete)
	s.handleJSON("POST /api/2.0/mlflow/databricks/model-versions/transition-stage", "registry.versions.transition-stage", true, s.versionsTransition)
	s.handleJSON("GET /api/2.0/mlflow/model-versions/get-download-uri", "registry.versions.get-download-uri", false, s.versionsDownloadURI)
}

func modelMissing(name string) *apiError {
	return notFound("Registered Model with name=%s not found", name)
}

func (s *Server) model(name string) (*modelRec, *apiError) {
	m, ok := s.st.Models[name]
	if !ok {
		return nil, modelMissing(name)
	}
	return m, nil
}

func (s *Server) version(name, version string) (*modelRec, *versionRec, *apiError) {
	m, aerr := s.model(name)
	if aerr != nil {
		return nil, nil, aerr
	}
	for _, v := range m.Versions {
		if v.MV.Version == version {
			return m, v, nil
		}
	}
	return nil, nil, notFound("Model Version (name=%s, version=%s) not found", name, version)
}

// createModel adds a registered model. Call with s.mu held.
func (s *Server) createModel(name, description string, tags []ml.ModelTag) *modelRec {
	now := ms(s.now())
	m := &modelRec{
		Model: ml.Model{Name: name, Description: description, Tags: tags, CreationTimestamp: now, LastUpdatedTimestamp: now, UserId: s.user},
		ID:    s.newUUID(),
	}
	s.st.Models[name] = m
	return m
}

// latest returns the newest READY version of each stage, for stages (all when empty).
func (m *modelRec) latest(stages []string) []ml.ModelVersion {
	best := map[string]*versionRec{}
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

func (m *modelRec) view() ml.Model {
	out := m.Model
	out.LatestVersions = m.latest(nil)
	return out
}

func (s *Server) modelsCreate(r *http.Request) (any, *apiError) {
	var req ml.CreateModelRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Name) == "" {
		return nil, invalidParam("Registered model name must not be empty.")
	}
	if _, ok := s.st.Models[req.Name]; ok {
		return nil, alreadyExists("Registered Model (name=%s) already exists.", req.Name)
	}
	m := s.createModel(req.Name, req.Description, req.Tags)
	v := m.view()
	return ml.CreateModelResponse{RegisteredModel: &v}, nil
}

func (s *Server) modelsGet(r *http.Request) (any, *apiError) {
	var req ml.GetModelRequest
	if err := decodeQuery(r, &req); err != nil {
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

func modelField(m *modelRec, key string) (string, bool) {
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

func (s *Server) modelsSearch(r *http.Request) (any, *apiError) {
	var req ml.SearchModelsRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	f, err := filter.Parse(req.Filter)
	if err == nil {
		err = f.KeysKnown(func(k string) bool { return k == "name" || strings.HasPrefix(k, "tags.") })
	}
	if err != nil {
		return nil, invalidParam("Invalid filter '%s': %v", req.Filter, err)
	}
	var matched []*modelRec
	for _, m := range s.st.Models {
		if f.Match(func(k string) (string, bool) { return modelField(m, k) }) {
			matched = append(matched, m)
		}
	}
	return s.modelPage(matched, req.OrderBy, req.MaxResults, req.PageToken, 100)
}

func (s *Server) modelsList(r *http.Request) (any, *apiError) {
	var req ml.ListModelsRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	var all []*modelRec
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

func (s *Server) modelPage(models []*modelRec, orderBy []string, maxResults int64, token string, def int) (any, *apiError) {
	less, aerr := orderFunc(orderBy, map[string]func(a, b *modelRec) int{
		"name":                   func(a, b *modelRec) int { return strings.Compare(a.Model.Name, b.Model.Name) },
		"last_updated_timestamp": func(a, b *modelRec) int { return cmpInt(a.Model.LastUpdatedTimestamp, b.Model.LastUpdatedTimestamp) },
		"timestamp":              func(a, b *modelRec) int { return cmpInt(a.Model.LastUpdatedTimestamp, b.Model.LastUpdatedTimestamp) },
	}, func(a, b *modelRec) int { return strings.Compare(a.Model.Name, b.Model.Name) })
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
func orderFunc[T any](orderBy []string, keys map[string]func(a, b T) int, tiebreak func(a, b T) int) (func(a, b T) bool, *apiError) {
	type clause struct {
		cmp  func(a, b T) int
		desc bool
	}
	var clauses []clause
	for _, o := range orderBy {
		m := orderClause.FindStringSubmatch(o)
		if m == nil {
			return nil, invalidParam("Invalid order_by clause %q.", o)
		}
		cmp, ok := keys[strings.ToLower(m[1])]
		if !ok {
			return nil, invalidParam("Invalid order_by key %q.", m[1])
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

func pageArgs(maxResults int64, token string, def, limitMax int) (limit, offset int, aerr *apiError) {
	limit = int(maxResults)
	if limit == 0 {
		limit = def
	}
	if limit < 0 || limit > limitMax {
		return 0, 0, invalidParam("max_results must be between 1 and %d, got %d.", limitMax, maxResults)
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

func (s *Server) modelsSetTag(r *http.Request) (any, *apiError) {
	var req ml.SetModelTagRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, invalidParam("Tag key must not be empty.")
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	m.Model.Tags = setTag(m.Model.Tags, req.Key, req.Value,
		func(t ml.ModelTag) string { return t.Key },
		func(k, v string) ml.ModelTag { return ml.ModelTag{Key: k, Value: v} })
	m.Model.LastUpdatedTimestamp = ms(s.now())
	return nil, nil
}

func (s *Server) modelsDeleteTag(r *http.Request) (any, *apiError) {
	var req ml.DeleteModelTagRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	var ok bool
	if m.Model.Tags, ok = deleteTag(m.Model.Tags, req.Key, func(t ml.ModelTag) string { return t.Key }); !ok {
		return nil, notFound("No tag with name: %s in model %s.", req.Key, req.Name)
	}
	return nil, nil
}

func (s *Server) modelsUpdate(r *http.Request) (any, *apiError) {
	var req ml.UpdateModelRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	m.Model.Description = req.Description
	m.Model.LastUpdatedTimestamp = ms(s.now())
	v := m.view()
	return ml.UpdateModelResponse{RegisteredModel: &v}, nil
}

func (s *Server) modelsDelete(r *http.Request) (any, *apiError) {
	var req ml.DeleteModelRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	if _, aerr := s.model(req.Name); aerr != nil {
		return nil, aerr
	}
	delete(s.st.Models, req.Name)
	return nil, nil
}

func (s *Server) modelsLatest(r *http.Request) (any, *apiError) {
	var req ml.GetLatestVersionsRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	m, aerr := s.model(req.Name)
	if aerr != nil {
		return nil, aerr
	}
	return ml.GetLatestVersionsResponse{ModelVersions: m.latest(req.Stages)}, nil
}

// sourceRun extracts the MLflow run id and artifact path of a model source:
// runs:/<id>/<path> or dbfs:/databricks/mlflow-tracking/<exp>/<id>/artifacts/<path>.
func sourceRun(source string) (runID, artifactPath string, ok bool) {
	if rest, found := strings.CutPrefix(source, "runs:/"); found {
		runID, artifactPath, _ = strings.Cut(rest, "/")
		return runID, artifactPath, runID != ""
	}
	if rest, found := strings.CutPrefix(source, "dbfs:/databricks/mlflow-tracking/"); found {
		parts := strings.SplitN(rest, "/", 4) // exp, run, "artifacts", path
		if len(parts) >= 3 && parts[2] == "artifacts" {
			if len(parts) == 4 {
				artifactPath = parts[3]
			}
			return parts[1], artifactPath, true
		}
	}
	return "", "", false
}

// registerVersion creates a model version. With immediate (log_model's
// registration, which waits for it) the registered model is created when
// missing and the version settles at once. Call with s.mu held.
func (s *Server) registerVersion(name, source, runID, description string, tags []ml.ModelVersionTag, immediate bool) (*versionRec, *apiError) {
	if strings.TrimSpace(source) == "" {
		return nil, invalidParam("Model version source must not be empty.")
	}
	m, ok := s.st.Models[name]
	if !ok {
		if !immediate {
			return nil, modelMissing(name)
		}
		m = s.createModel(name, "", nil)
	}
	final, finalMsg := ml.ModelVersionStatusReady, ""
	if id, artifactPath, fromRun := sourceRun(source); fromRun {
		if !s.runs.RunExists(id) {
			return nil, notFound("Run '%s' not found.", id)
		}
		if runID == "" {
			runID = id
		}
		if !s.runs.HasArtifacts(id, artifactPath) {
			final, finalMsg = ml.ModelVersionStatusFailedRegistration, "Unable to find a model at "+source+": the run logged no artifacts under "+artifactPath
		}
	}
	if runID != "" && !s.runs.RunExists(runID) {
		return nil, notFound("Run '%s' not found.", runID)
	}
	if q := s.st.RegistrationFailures[name]; len(q) > 0 {
		final, finalMsg, s.st.RegistrationFailures[name] = ml.ModelVersionStatusFailedRegistration, q[0], q[1:]
		if len(s.st.RegistrationFailures[name]) == 0 {
			delete(s.st.RegistrationFailures, name)
		}
	}
	now := s.now()
	m.NextVersion++
	v := &versionRec{
		MV: ml.ModelVersion{
			Name: name, Version: strconv.Itoa(m.NextVersion), Source: source, RunId: runID,
			Description: description, Tags: tags, CurrentStage: "None", UserId: s.user,
			Status: ml.ModelVersionStatusPendingRegistration, CreationTimestamp: ms(now), LastUpdatedTimestamp: ms(now),
		},
		ReadyAt:     s.after(s.dur.ModelRegistration),
		FinalStatus: final, FinalMsg: finalMsg,
	}
	if immediate {
		v.ReadyAt = now
		s.advanceVersion(v, now)
	}
	m.Versions = append(m.Versions, v)
	m.Model.LastUpdatedTimestamp = ms(now)
	return v, nil
}

// advanceVersion settles a pending version whose registration time is up.
func (s *Server) advanceVersion(v *versionRec, now time.Time) {
	if v.MV.Status == ml.ModelVersionStatusPendingRegistration && !now.Before(v.ReadyAt) {
		v.MV.Status, v.MV.StatusMessage = v.FinalStatus, v.FinalMsg
		v.MV.LastUpdatedTimestamp = ms(v.ReadyAt)
	}
}

func (s *Server) versionsCreate(r *http.Request) (any, *apiError) {
	var req ml.CreateModelVersionRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	v, aerr := s.registerVersion(req.Name, req.Source, req.RunId, req.Description, req.Tags, false)
	if aerr != nil {
		return nil, aerr
	}
	mv := v.MV
	return ml.CreateModelVersionResponse{ModelVersion: &mv}, nil
}

func (s *Server) versionsGet(r *http.Request) (any, *apiError) {
	var req ml.GetModelVersionRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	mv := v.MV
	return ml.GetModelVersionResponse{ModelVersion: &mv}, nil
}

func versionField(v *versionRec, key string) (string, bool) {
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
	return contains([]string{"name", "run_id", "version", "version_number", "source", "source_path", "current_stage", "status", "user_id"}, k) ||
		strings.HasPrefix(k, "tags.")
}

func (s *Server) versionsSearch(r *http.Request) (any, *apiError) {
	var req ml.SearchModelVersionsRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	f, err := filter.Parse(req.Filter)
	if err == nil {
		err = f.KeysKnown(knownVersionKey)
	}
	if err != nil {
		return nil, invalidParam("Invalid filter '%s': %v", req.Filter, err)
	}
	less, aerr := orderFunc(req.OrderBy, map[string]func(a, b *versionRec) int{
		"name":                   func(a, b *versionRec) int { return strings.Compare(a.MV.Name, b.MV.Name) },
		"version_number":         func(a, b *versionRec) int { return versionNumber(a.MV.Version) - versionNumber(b.MV.Version) },
		"creation_timestamp":     func(a, b *versionRec) int { return cmpInt(a.MV.CreationTimestamp, b.MV.CreationTimestamp) },
		"last_updated_timestamp": func(a, b *versionRec) int { return cmpInt(a.MV.LastUpdatedTimestamp, b.MV.LastUpdatedTimestamp) },
	}, func(a, b *versionRec) int {
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
	var matched []*versionRec
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

func (s *Server) versionsUpdate(r *http.Request) (any, *apiError) {
	var req ml.UpdateModelVersionRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	v.MV.Description = req.Description
	v.MV.LastUpdatedTimestamp = ms(s.now())
	mv := v.MV
	return ml.UpdateModelVersionResponse{ModelVersion: &mv}, nil
}

func (s *Server) versionsSetTag(r *http.Request) (any, *apiError) {
	var req ml.SetModelVersionTagRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, invalidParam("Tag key must not be empty.")
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	v.MV.Tags = setTag(v.MV.Tags, req.Key, req.Value,
		func(t ml.ModelVersionTag) string { return t.Key },
		func(k, val string) ml.ModelVersionTag { return ml.ModelVersionTag{Key: k, Value: val} })
	v.MV.LastUpdatedTimestamp = ms(s.now())
	return nil, nil
}

func (s *Server) versionsDeleteTag(r *http.Request) (any, *apiError) {
	var req ml.DeleteModelVersionTagRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	var ok bool
	if v.MV.Tags, ok = deleteTag(v.MV.Tags, req.Key, func(t ml.ModelVersionTag) string { return t.Key }); !ok {
		return nil, notFound("No tag with name: %s in model %s version %s.", req.Key, req.Name, req.Version)
	}
	return nil, nil
}

func (s *Server) versionsDelete(r *http.Request) (any, *apiError) {
	var req ml.DeleteModelVersionRequest
	if err := decodeQuery(r, &req); err != nil {
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

func (s *Server) versionsTransition(r *http.Request) (any, *apiError) {
	var req ml.TransitionModelVersionStageDatabricks
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	stage, ok := stages[strings.ToLower(req.Stage)]
	if !ok {
		return nil, invalidParam("Invalid stage %q: use None, Staging, Production or Archived.", req.Stage)
	}
	m, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	if v.MV.Status != ml.ModelVersionStatusReady {
		return nil, invalidState("Model version %s of %s is %s; only READY versions change stage.", v.MV.Version, v.MV.Name, v.MV.Status)
	}
	now := ms(s.now())
	if req.ArchiveExistingVersions && stage != "None" && stage != "Archived" {
		for _, other := range m.Versions {
			if other != v && other.MV.CurrentStage == stage {
				other.MV.CurrentStage, other.MV.LastUpdatedTimestamp = "Archived", now
			}
		}
	}
	v.MV.CurrentStage, v.MV.LastUpdatedTimestamp = stage, now
	var out ml.ModelVersionDatabricks
	if err := convert(v.MV, &out); err != nil {
		return nil, newError(http.StatusInternalServerError, codeInternal, "model version: %v", err)
	}
	out.PermissionLevel = ml.PermissionLevelCanManage
	return ml.TransitionStageResponse{ModelVersionDatabricks: &out}, nil
}

func (s *Server) versionsDownloadURI(r *http.Request) (any, *apiError) {
	var req ml.GetModelVersionDownloadUriRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	_, v, aerr := s.version(req.Name, req.Version)
	if aerr != nil {
		return nil, aerr
	}
	return ml.GetModelVersionDownloadUriResponse{ArtifactUri: v.MV.Source}, nil
}
