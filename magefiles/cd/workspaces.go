package cd

import (
	"context"
	"fmt"

	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// CrossWorkspaceError refuses a promotion between two workspaces through
// the workspace model registry. A registry is per workspace: the source's
// version points at an MLflow run (runs:/<run id>/agent) that exists only in
// the source workspace, so the target's registry cannot copy it. It is
// returned by the source stage, before anything changes.
type CrossWorkspaceError struct {
	Env, From           string
	Host, FromHost      string
	WorkspaceID, FromID int64
}

func (e *CrossWorkspaceError) Error() string {
	return fmt.Sprintf("deploy:%s promotes %s's model version through the workspace model registry, but %s is another workspace "+
		"(%s, workspace %d) than %s (%s, workspace %d): a registry is per workspace and %s's version points at an MLflow run that only %s's workspace holds, "+
		"so it cannot be copied across. Nothing was changed. Either deploy %s and %s to one workspace (give both targets the same workspace.host), "+
		"or promote through Unity Catalog models, which every workspace attached to the same metastore shares",
		e.Env, e.From, e.From, e.FromHost, e.FromID, e.Env, e.Host, e.WorkspaceID, e.From, e.From, e.From, e.Env)
}

// sameWorkspace refuses a promotion from another workspace. Two hosts may
// name one workspace (an alias), so differing hosts are compared by
// workspace id (SCIM Me's X-Databricks-Org-Id header) before refusing.
func (s *State) sameWorkspace(ctx context.Context, from string, src *workspace.Client) error {
	if s.Client == nil || src == nil || src == s.Client || workspace.SameHost(src.Host, s.Client.Host) {
		return nil
	}
	id, err := s.Client.W.CurrentWorkspaceID(ctx)
	if err != nil {
		return fmt.Errorf("workspace id of %s (%s): %w", s.Env, s.Client.Host, err)
	}
	fromID, err := src.W.CurrentWorkspaceID(ctx)
	if err != nil {
		return fmt.Errorf("workspace id of %s (%s): %w", from, src.Host, err)
	}
	if id == fromID {
		return nil
	}
	return &CrossWorkspaceError{Env: s.Env, From: from, Host: s.Client.Host, FromHost: src.Host, WorkspaceID: id, FromID: fromID}
}
