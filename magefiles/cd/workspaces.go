package cd

import (
	"fmt"
	"strings"
)

// Promotion routes: how staging and prod come by the model version they
// serve. The release record keeps the route (model.source.route) and plan
// shows it.
const (
	// RouteCopy copies the version the source environment verified into
	// this environment's model: both are in one workspace, so one registry
	// holds the source version and the run it points at.
	RouteCopy = "copy"
	// RouteTrain trains the release again in this environment's own
	// workspace, from the same commit, once the source environment has
	// verified it. A workspace model registry's version points at an MLflow
	// run (runs:/<run id>/agent) of its own workspace, so no other
	// workspace's registry can copy it; what moves between workspaces is
	// the code. This is the "deploy code" pattern Databricks recommends in
	// most situations (Databricks documentation, "Model deployment
	// patterns", machine-learning/mlops/deployment-patterns: "the same code
	// moves to staging and then production. The model is trained in each
	// environment").
	RouteTrain = "train"
	// RouteUCCopy copies the version the source environment verified from
	// its Unity Catalog model into this environment's, through the
	// metastore both workspaces share: the target's promote job runs
	// MLflow's copy_model_version, so the copy needs read grants on the
	// source catalog, not the source workspace's credentials.
	RouteUCCopy = "uc-copy"
)

// CrossWorkspaceError refuses a promotion from another workspace that the
// train route cannot carry either. It is returned by the source stage,
// before anything changes.
type CrossWorkspaceError struct {
	Env, From           string
	Host, FromHost      string
	WorkspaceID, FromID int64
	// Why the train route cannot be taken.
	Why string
}

func (e *CrossWorkspaceError) Error() string {
	return fmt.Sprintf("deploy:%s cannot promote %s's release: %s is another workspace (%s, workspace %d) than %s (%s, workspace %d), "+
		"and workspace-registry versions cannot cross workspaces (%s's version points at an MLflow run that only %s's workspace holds), "+
		"so %s would train the release itself from the same commit, but %s. Nothing was changed. "+
		"Fix that, deploy %s and %s to one workspace (give both targets the same workspace.host), "+
		"or promote through Unity Catalog models, which every workspace attached to the same metastore shares",
		e.Env, e.From, e.From, e.FromHost, e.FromID, e.Env, e.Host, e.WorkspaceID,
		e.From, e.From, e.Env, e.Why, e.From, e.Env)
}

// cannotTrain says why the target cannot train the release in its own
// workspace ("" when it can).
func (c *EnvConfig) cannotTrain() string {
	if c.TrainingJobKey == "" {
		return fmt.Sprintf("bundle target %s declares no training job (a job whose key mentions train)", c.Env)
	}
	if n := countTrainers(c); n != 1 {
		return fmt.Sprintf("bundle target %s declares %d training jobs (jobs whose key mentions train): want one", c.Env, n)
	}
	return ""
}

// trainedHere reports whether this deploy trains its own model version:
// dev always, staging and prod on the train route.
func (s *State) trainedHere() bool { return s.Source == nil || s.Route == RouteTrain }

// skipCopied is the train and register stages' skip in an environment
// that gets its version from its source environment.
func (s *State) skipCopied() error {
	env := s.Config.Env
	if s.Route == RouteUCCopy {
		return Skip("%s's version is copied from %s's Unity Catalog model by the promote stage", env, s.Source.Env)
	}
	return Skip("%s's version is copied from %s (one workspace)", env, s.Source.Env)
}

// crossReason is what the output says when the train route is taken.
func crossReason(env Environment, tag string) string {
	return fmt.Sprintf("%s is another workspace: workspace-registry versions cannot cross workspaces; training release %s in %s from the same commit",
		env, tag, env)
}

// countTrainers counts the target's training jobs as configFromBundle
// picks them (a job whose key mentions train, or the only job).
func countTrainers(cfg *EnvConfig) int {
	if cfg.Bundle == nil {
		return 0
	}
	n := 0
	for key := range cfg.Bundle.Jobs {
		if strings.Contains(strings.ToLower(key), "train") || len(cfg.Bundle.Jobs) == 1 {
			n++
		}
	}
	return n
}
