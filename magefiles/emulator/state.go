package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/databricks/databricks-sdk-go/service/ml"

	"github.com/hitl-mlops/interrupt-agent/magefiles/atomicfile"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/jobs"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/registry"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/serving"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/tracking"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/workspacefiles"
)

// stateVersion changes when the file layout does; an older file is refused
// with a message rather than misread.
const stateVersion = 1

// The state file is one JSON object. Each service's part sits under its
// own keys at the top level, so a part keeps its keys, and the file its
// layout, whichever package owns it.
type (
	jobsState     = jobs.State
	registryState = registry.State
	servingState  = serving.State
)

// stateFile is what the state file holds: the parts the server writes
// itself (ownState) and the parts of the services that encode their own
// under their locks (jobs, the workspace registry, serving).
type stateFile struct {
	ownState
	jobsState
	registryState
	servingState
}

// ownState is the layout version, the id sequence the services share, and
// the services that hand the server a copy of their state.
type ownState struct {
	Version int            `json:"version"`
	NextID  *core.Sequence `json:"next_id"`
	// Files is package workspacefiles' tree.
	Files map[string]workspacefiles.Object `json:"workspace_objects"`
	// Experiments and MLflowRuns are package tracking's store.
	Experiments map[string]ml.Experiment `json:"experiments"`
	MLflowRuns  map[string]tracking.Run  `json:"mlflow_runs"`
	// Tables are the metastore's tables this workspace owns (its endpoints'
	// inference tables): the metastore is shared and lives in the process,
	// but the rows an endpoint captured persist with its workspace.
	Tables []unitycatalog.Table `json:"tables,omitempty"`
}

// newStateFile is an empty workspace.
func newStateFile() stateFile {
	return stateFile{ownState: ownState{Version: stateVersion, NextID: core.NewSequence(1000)}}
}

// load reads a state file; a missing file is an empty workspace.
func load(path string) (stateFile, error) {
	// #nosec G304 -- the emulator's state file, named by its operator (-state)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newStateFile(), nil
	}
	if err != nil {
		return stateFile{}, fmt.Errorf("read emulator state %s: %w", path, err)
	}
	var f stateFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return stateFile{}, fmt.Errorf("parse emulator state %s: %w (delete the file to start a fresh workspace)", path, err)
	}
	if f.Version != stateVersion {
		return stateFile{}, fmt.Errorf("emulator state %s has layout version %d, this build reads %d (delete the file to start a fresh workspace)", path, f.Version, stateVersion)
	}
	if f.NextID == nil {
		f.NextID = core.NewSequence(0)
	}
	return f, nil
}

// encodeState is the state file's content now: the server's own part and
// each service's, encoded under its lock, in one indented object.
func (s *Server) encodeState() ([]byte, error) {
	experiments, runs := s.runs.Snapshot()
	own, err := json.Marshal(ownState{
		Version: stateVersion, NextID: s.ids, Files: s.files.Objects(),
		Experiments: experiments, MLflowRuns: runs, Tables: s.uc.TablesOwnedBy(s.user),
	})
	if err != nil {
		return nil, fmt.Errorf("encode emulator state: %w", err)
	}
	parts := [][]byte{own}
	for _, part := range []struct {
		name    string
		marshal func() ([]byte, error)
	}{{"jobs", s.jobs.MarshalState}, {"registry", s.registry.MarshalState}, {"serving", s.serving.MarshalState}} {
		raw, err := part.marshal()
		if err != nil {
			return nil, fmt.Errorf("encode emulator state: %s: %w", part.name, err)
		}
		parts = append(parts, raw)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, joinObjects(parts), "", " "); err != nil {
		return nil, fmt.Errorf("encode emulator state: %w", err)
	}
	return out.Bytes(), nil
}

// joinObjects merges encoded JSON objects whose keys differ into one.
func joinObjects(objects [][]byte) []byte {
	out := []byte{'{'}
	for _, o := range objects {
		members := bytes.TrimSpace(o)
		members = bytes.TrimSpace(members[1 : len(members)-1])
		if len(members) == 0 {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, members...)
	}
	return append(out, '}')
}

// write replaces the state file whole, so a reader never sees half a
// workspace.
func write(path string, raw []byte) error {
	if err := atomicfile.Write(path, raw, 0o600); err != nil {
		return fmt.Errorf("write emulator state: %w", err)
	}
	return nil
}
