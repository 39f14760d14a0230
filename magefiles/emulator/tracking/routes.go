package tracking

import (
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/filter"
)

// Routes are the MLflow tracking routes databricks-sdk-go calls.
func (s *Store) Routes() []core.Route {
	const mlflow = "/api/2.0/mlflow"
	return []core.Route{
		{Pattern: "POST " + mlflow + "/experiments/create", Op: "mlflow.experiments.create", Mutating: true, Handle: s.experimentsCreate},
		{Pattern: "GET " + mlflow + "/experiments/get", Op: "mlflow.experiments.get", Handle: s.experimentsGet},
		{Pattern: "GET " + mlflow + "/experiments/get-by-name", Op: "mlflow.experiments.get-by-name", Handle: s.experimentsGetByName},
		{Pattern: "POST " + mlflow + "/runs/create", Op: "mlflow.runs.create", Mutating: true, Handle: s.runsCreate},
		{Pattern: "GET " + mlflow + "/runs/get", Op: "mlflow.runs.get", Handle: s.runsGet},
		{Pattern: "POST " + mlflow + "/runs/search", Op: "mlflow.runs.search", Handle: s.runsSearch},
		{Pattern: "POST " + mlflow + "/runs/set-tag", Op: "mlflow.runs.set-tag", Mutating: true, Handle: s.runsSetTag},
		{Pattern: "POST " + mlflow + "/runs/update", Op: "mlflow.runs.update", Mutating: true, Handle: s.runsUpdate},
		{Pattern: "GET " + mlflow + "/artifacts/list", Op: "mlflow.artifacts.list", Handle: s.artifactsList},
	}
}

func (s *Store) experimentsCreate(r *http.Request) (any, *core.Error) {
	var req ml.CreateExperiment
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Name) == "" {
		return nil, core.InvalidParam("Experiment name must not be empty.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.experimentByName(req.Name, false) != nil {
		return nil, core.NewError(http.StatusConflict, core.CodeAlreadyExists, "Experiment '%s' already exists.", req.Name)
	}
	e := s.experimentByName(req.Name, true)
	e.Tags = req.Tags
	if req.ArtifactLocation != "" {
		e.ArtifactLocation = req.ArtifactLocation
	}
	return ml.CreateExperimentResponse{ExperimentId: e.ExperimentId}, nil
}

func (s *Store) experimentsGet(r *http.Request) (any, *core.Error) {
	var req ml.GetExperimentRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.experiments[req.ExperimentId]
	if !ok {
		return nil, core.NotFound("Could not find experiment with ID %s", req.ExperimentId)
	}
	exp := *e
	return ml.GetExperimentResponse{Experiment: &exp}, nil
}

func (s *Store) experimentsGetByName(r *http.Request) (any, *core.Error) {
	var req ml.GetByNameRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.experimentByName(req.ExperimentName, false)
	if e == nil {
		return nil, core.NotFound("Could not find experiment with name %s", req.ExperimentName)
	}
	exp := *e
	return ml.GetExperimentByNameResponse{Experiment: &exp}, nil
}

func (s *Store) runsCreate(r *http.Request) (any, *core.Error) {
	var req ml.CreateRun
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.experiments[req.ExperimentId]
	if !ok {
		return nil, core.NotFound("Could not find experiment with ID %s", req.ExperimentId)
	}
	start := s.clock.Now()
	if req.StartTime > 0 {
		start = time.UnixMilli(req.StartTime)
	}
	run := cloneRun(s.createRun(exp, req.RunName, start, req.Tags).Run)
	return ml.CreateRunResponse{Run: &run}, nil
}

func (s *Store) runsGet(r *http.Request) (any, *core.Error) {
	var req ml.GetRunRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	if req.RunId == "" {
		req.RunId = req.RunUuid
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, aerr := s.run(req.RunId)
	if aerr != nil {
		return nil, aerr
	}
	run := cloneRun(mr.Run)
	return ml.GetRunResponse{Run: &run}, nil
}

// runField reads a search key of an MLflow run.
func runField(mr *Run, key string) (string, bool) {
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
		return slices.Contains([]string{"run_id", "run_name", "status", "start_time", "end_time", "user_id"}, name)
	case "tags", "tag", "params", "param", "parameter", "parameters", "metrics", "metric":
		return name != ""
	}
	return false
}

func (s *Store) runsSearch(r *http.Request) (any, *core.Error) {
	var req ml.SearchRuns
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	f, err := filter.Parse(req.Filter)
	if err == nil {
		err = f.KeysKnown(knownRunKey)
	}
	if err != nil {
		return nil, core.InvalidParam("Invalid filter '%s': %v", req.Filter, err)
	}
	limit := req.MaxResults
	if limit == 0 {
		limit = 1000
	}
	if limit < 0 || limit > 50000 {
		return nil, core.InvalidParam("max_results must be between 1 and 50000.")
	}
	offset, aerr := core.PageToken(req.PageToken)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*Run
	for _, mr := range s.runs {
		if len(req.ExperimentIds) > 0 && !slices.Contains(req.ExperimentIds, mr.Run.Info.ExperimentId) {
			continue
		}
		if mr.Run.Info.LifecycleStage != "active" && req.RunViewType != ml.ViewTypeAll && req.RunViewType != ml.ViewTypeDeletedOnly {
			continue
		}
		if f.Match(func(k string) (string, bool) { return runField(mr, k) }) {
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
	from, to, next := core.Page(len(matched), offset, limit)
	resp := ml.SearchRunsResponse{NextPageToken: next}
	for _, mr := range matched[from:to] {
		resp.Runs = append(resp.Runs, cloneRun(mr.Run))
	}
	return resp, nil
}

func (s *Store) runsSetTag(r *http.Request) (any, *core.Error) {
	var req ml.SetTag
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.RunId == "" {
		req.RunId = req.RunUuid
	}
	if req.Key == "" {
		return nil, core.InvalidParam("Tag key must not be empty.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, aerr := s.run(req.RunId)
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

func (s *Store) runsUpdate(r *http.Request) (any, *core.Error) {
	var req ml.UpdateRun
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.RunId == "" {
		req.RunId = req.RunUuid
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, aerr := s.run(req.RunId)
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
	info := *mr.Run.Info
	return ml.UpdateRunResponse{RunInfo: &info}, nil
}

func (s *Store) artifactsList(r *http.Request) (any, *core.Error) {
	var req ml.ListArtifactsRequest
	if err := core.DecodeQuery(r, &req); err != nil {
		return nil, err
	}
	if req.RunId == "" {
		req.RunId = req.RunUuid
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mr, aerr := s.run(req.RunId)
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
