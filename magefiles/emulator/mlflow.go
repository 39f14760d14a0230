package emulator

import (
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/ml"
)

func (s *Server) registerMLflow() {
	s.handleJSON("POST /api/2.0/mlflow/experiments/create", "mlflow.experiments.create", true, s.experimentsCreate)
	s.handleJSON("GET /api/2.0/mlflow/experiments/get", "mlflow.experiments.get", false, s.experimentsGet)
	s.handleJSON("GET /api/2.0/mlflow/experiments/get-by-name", "mlflow.experiments.get-by-name", false, s.experimentsGetByName)
	s.handleJSON("POST /api/2.0/mlflow/runs/create", "mlflow.runs.create", true, s.mlRunsCreate)
	s.handleJSON("GET /api/2.0/mlflow/runs/get", "mlflow.runs.get", false, s.mlRunsGet)
	s.handleJSON("POST /api/2.0/mlflow/runs/search", "mlflow.runs.search", false, s.mlRunsSearch)
	s.handleJSON("POST /api/2.0/mlflow/runs/set-tag", "mlflow.runs.set-tag", true, s.mlRunsSetTag)
	s.handleJSON("POST /api/2.0/mlflow/runs/update", "mlflow.runs.update", true, s.mlRunsUpdate)
	s.handleJSON("GET /api/2.0/mlflow/artifacts/list", "mlflow.artifacts.list", false, s.artifactsList)
}

// experimentByName finds an experiment, creating it when asked. Call with s.mu held.
func (s *Server) experimentByName(name string, create bool) *ml.Experiment {
	for _, e := range s.st.Experiments {
		if e.Name == name && e.LifecycleStage == "active" {
			return e
		}
	}
	if !create {
		return nil
	}
	id := strconv.FormatInt(s.st.nextID(), 10)
	now := ms(s.now())
	e := &ml.Experiment{
		ExperimentId: id, Name: name, LifecycleStage: "active",
		ArtifactLocation: "dbfs:/databricks/mlflow-tracking/" + id,
		CreationTime:     now, LastUpdateTime: now,
	}
	s.st.Experiments[id] = e
	return e
}

// createMLRun starts an MLflow run. Call with s.mu held.
func (s *Server) createMLRun(expID, name string, start time.Time, tags []ml.RunTag) *mlRunRec {
	id := s.newUUID()
	exp := s.st.Experiments[expID]
	tags = append([]ml.RunTag{{Key: "mlflow.runName", Value: name}, {Key: "mlflow.user", Value: s.user}}, tags...)
	mr := &mlRunRec{Run: ml.Run{
		Info: &ml.RunInfo{
			RunId: id, RunUuid: id, RunName: name, ExperimentId: expID,
			ArtifactUri: exp.ArtifactLocation + "/" + id + "/artifacts",
			Status:      ml.RunInfoStatusRunning, StartTime: ms(start),
			LifecycleStage: "active", UserId: s.user,
		},
		Data: &ml.RunData{Tags: tags},
	}}
	s.st.MLRuns[id] = mr
	return mr
}

// logModelArtifacts records the files an MLflow pyfunc model consists of.
func (s *Server) logModelArtifacts(mr *mlRunRec, dir string) {
	if mr.Artifacts == nil {
		mr.Artifacts = map[string]int64{}
	}
	for file, size := range map[string]int64{
		"MLmodel": 612, "python_model.pkl": 2048, "requirements.txt": 31,
		"conda.yaml": 212, "python_env.yaml": 118,
	} {
		mr.Artifacts[dir+"/"+file] = size
	}
}

func (s *Server) experimentsCreate(r *http.Request) (any, *apiError) {
	var req ml.CreateExperiment
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Name) == "" {
		return nil, invalidParam("Experiment name must not be empty.")
	}
	if s.experimentByName(req.Name, false) != nil {
		return nil, alreadyExists("Experiment '%s' already exists.", req.Name)
	}
	e := s.experimentByName(req.Name, true)
	e.Tags = req.Tags
	if req.ArtifactLocation != "" {
		e.ArtifactLocation = req.ArtifactLocation
	}
	return ml.CreateExperimentResponse{ExperimentId: e.ExperimentId}, nil
}

func (s *Server) experimentsGet(r *http.Request) (any, *apiError) {
	var req ml.GetExperimentRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	e, ok := s.st.Experiments[req.ExperimentId]
	if !ok {
		return nil, notFound("Could not find experiment with ID %s", req.ExperimentId)
	}
	return ml.GetExperimentResponse{Experiment: e}, nil
}

func (s *Server) experimentsGetByName(r *http.Request) (any, *apiError) {
	var req ml.GetByNameRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	e := s.experimentByName(req.ExperimentName, false)
	if e == nil {
		return nil, notFound("Could not find experiment with name %s", req.ExperimentName)
	}
	return ml.GetExperimentByNameResponse{Experiment: e}, nil
}

func (s *Server) mlRunsCreate(r *http.Request) (any, *apiError) {
	var req ml.CreateRun
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if _, ok := s.st.Experiments[req.ExperimentId]; !ok {
		return nil, notFound("Could not find experiment with ID %s", req.ExperimentId)
	}
	start := s.now()
	if req.StartTime > 0 {
		start = time.UnixMilli(req.StartTime)
	}
	mr := s.createMLRun(req.ExperimentId, req.RunName, start, req.Tags)
	return ml.CreateRunResponse{Run: &mr.Run}, nil
}

func (s *Server) mlRun(id string) (*mlRunRec, *apiError) {
	mr, ok := s.st.MLRuns[id]
	if !ok {
		return nil, notFound("Run '%s' not found.", id)
	}
	return mr, nil
}

func (s *Server) mlRunsGet(r *http.Request) (any, *apiError) {
	var req ml.GetRunRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	if req.RunId == "" {
		req.RunId = req.RunUuid
	}
	mr, aerr := s.mlRun(req.RunId)
	if aerr != nil {
		return nil, aerr
	}
	return ml.GetRunResponse{Run: &mr.Run}, nil
}

// runField reads a search key of an MLflow run.
func runField(mr *mlRunRec, key string) (string, bool) {
	info, data := mr.Run.Info, mr.Run.Data
	group, name, dotted := strings.Cut(key, ".")
	if !dotted {
		group, name = "attributes", key
	}
	switch group {
	case "attributes", "attribute", "attr", "run":
		switch name {
		case "run_id":
			return info.RunId, true
		case "run_name":
			return info.RunName, true
		case "status":
			return string(info.Status), true
		case "start_time":
			return strconv.FormatInt(info.StartTime, 10), true
		case "end_time":
			return strconv.FormatInt(info.EndTime, 10), info.EndTime > 0
		case "user_id":
			return info.UserId, true
		}
	case "tags", "tag":
		for _, t := range data.Tags {
			if t.Key == name {
				return t.Value, true
			}
		}
	case "params", "param", "parameter", "parameters":
		for _, p := range data.Params {
			if p.Key == name {
				return p.Value, true
			}
		}
	case "metrics", "metric":
		for _, m := range data.Metrics {
			if m.Key == name {
				return strconv.FormatFloat(m.Value, 'f', -1, 64), true
			}
		}
	}
	return "", false
}

func knownRunKey(key string) bool {
	group, name, dotted := strings.Cut(key, ".")
	if !dotted {
		group, name = "attributes", key
	}
	switch group {
	case "attributes", "attribute", "attr", "run":
		return contains([]string{"run_id", "run_name", "status", "start_time", "end_time", "user_id"}, name)
	case "tags", "tag", "params", "param", "parameter", "parameters", "metrics", "metric":
		return name != ""
	}
	return false
}

func (s *Server) mlRunsSearch(r *http.Request) (any, *apiError) {
	var req ml.SearchRuns
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	f, err := parseFilter(req.Filter)
	if err == nil {
		err = f.keysKnown(knownRunKey)
	}
	if err != nil {
		return nil, invalidParam("Invalid filter '%s': %v", req.Filter, err)
	}
	limit := req.MaxResults
	if limit == 0 {
		limit = 1000
	}
	if limit < 0 || limit > 50000 {
		return nil, invalidParam("max_results must be between 1 and 50000.")
	}
	offset, aerr := pageToken(req.PageToken)
	if aerr != nil {
		return nil, aerr
	}
	var matched []*mlRunRec
	for _, mr := range s.st.MLRuns {
		if len(req.ExperimentIds) > 0 && !contains(req.ExperimentIds, mr.Run.Info.ExperimentId) {
			continue
		}
		if mr.Run.Info.LifecycleStage != "active" && req.RunViewType != ml.ViewTypeAll && req.RunViewType != ml.ViewTypeDeletedOnly {
			continue
		}
		if f.match(func(k string) (string, bool) { return runField(mr, k) }) {
			matched = append(matched, mr)
		}
	}
	// Newest first, then by id, the service's default order.
	sort.Slice(matched, func(i, j int) bool {
		a, b := matched[i].Run.Info, matched[j].Run.Info
		if a.StartTime != b.StartTime {
			return a.StartTime > b.StartTime
		}
		return a.RunId < b.RunId
	})
	from, to, next := page(len(matched), offset, limit)
	resp := ml.SearchRunsResponse{NextPageToken: next}
	for _, mr := range matched[from:to] {
		resp.Runs = append(resp.Runs, mr.Run)
	}
	return resp, nil
}

func (s *Server) mlRunsSetTag(r *http.Request) (any, *apiError) {
	var req ml.SetTag
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.RunId == "" {
		req.RunId = req.RunUuid
	}
	if req.Key == "" {
		return nil, invalidParam("Tag key must not be empty.")
	}
	mr, aerr := s.mlRun(req.RunId)
	if aerr != nil {
		return nil, aerr
	}
	for i, t := range mr.Run.Data.Tags {
		if t.Key == req.Key {
			mr.Run.Data.Tags[i].Value = req.Value
			return nil, nil
		}
	}
	mr.Run.Data.Tags = append(mr.Run.Data.Tags, ml.RunTag{Key: req.Key, Value: req.Value})
	return nil, nil
}

func (s *Server) mlRunsUpdate(r *http.Request) (any, *apiError) {
	var req ml.UpdateRun
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.RunId == "" {
		req.RunId = req.RunUuid
	}
	mr, aerr := s.mlRun(req.RunId)
	if aerr != nil {
		return nil, aerr
	}
	if req.Status != "" {
		mr.Run.Info.Status = ml.RunInfoStatus(req.Status)
	}
	if req.EndTime > 0 {
		mr.Run.Info.EndTime = req.EndTime
	}
	if req.RunName != "" {
		mr.Run.Info.RunName = req.RunName
	}
	return ml.UpdateRunResponse{RunInfo: mr.Run.Info}, nil
}

func (s *Server) artifactsList(r *http.Request) (any, *apiError) {
	var req ml.ListArtifactsRequest
	if err := decodeQuery(r, &req); err != nil {
		return nil, err
	}
	if req.RunId == "" {
		req.RunId = req.RunUuid
	}
	mr, aerr := s.mlRun(req.RunId)
	if aerr != nil {
		return nil, aerr
	}
	dir := strings.Trim(req.Path, "/")
	seen := map[string]bool{}
	resp := ml.ListArtifactsResponse{RootUri: mr.Run.Info.ArtifactUri}
	for p, size := range mr.Artifacts {
		rel := p
		if dir != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(p, dir+"/"); !ok {
				continue
			}
		}
		first, rest, nested := strings.Cut(rel, "/")
		full := path.Join(dir, first)
		if seen[full] {
			continue
		}
		seen[full] = true
		if nested && rest != "" {
			resp.Files = append(resp.Files, ml.FileInfo{Path: full, IsDir: true})
		} else {
			resp.Files = append(resp.Files, ml.FileInfo{Path: full, FileSize: size})
		}
	}
	sort.Slice(resp.Files, func(i, j int) bool { return resp.Files[i].Path < resp.Files[j].Path })
	return resp, nil
}

// hasArtifacts reports whether a run logged files under dir.
func (mr *mlRunRec) hasArtifacts(dir string) bool {
	dir = strings.Trim(dir, "/")
	for p := range mr.Artifacts {
		if dir == "" || p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}
