package cd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
)

// DeployEnvironmentEnv is set by the CD workflow next to the job's
// `environment:`: GitHub gives no variable naming the environment whose
// protection rules (required reviewers) gated the job.
const DeployEnvironmentEnv = "DEPLOY_ENVIRONMENT"

// ApproveEnv approves a deploy or rollback in automation (APPROVE=1).
const ApproveEnv = "APPROVE"

// githubEnvironments are the GitHub environment names accepted for each
// deploy environment.
var githubEnvironments = map[string][]string{
	EnvDev:     {"dev", "development"},
	EnvStaging: {"staging", "stage"},
	EnvProd:    {"prod", "production"},
}

// ErrNotApproved is wrapped when a deploy lacks its approval.
var ErrNotApproved = errors.New("not approved")

// Approve gets the approval staging and prod need, before anything changes:
// GitHub environment protection in Actions, a confirmation at a terminal,
// or -yes / APPROVE=1. Dev needs none.
type Approve struct{}

// Name implements Stage.
func (Approve) Name() string { return "approve" }

// Run implements Stage.
func (Approve) Run(ctx context.Context, s *State) error {
	if s.Env == EnvDev {
		return Skip("dev needs no approval")
	}
	how, err := s.approval(ctx)
	if err != nil {
		return err
	}
	s.Approval = how
	if s.Record != nil {
		s.Record.Approval = how
	}
	s.Printf("   approved: %s\n", how)
	return nil
}

func (s *State) approval(ctx context.Context) (string, error) {
	who := "unknown"
	if s.Client != nil {
		who = s.Client.User
	}
	if s.Opts.Yes {
		return "-yes by " + who, nil
	}
	if s.envFlag(ApproveEnv) {
		return ApproveEnv + "=" + strings.ToLower(strings.TrimSpace(s.Getenv(ApproveEnv))) + " by " + who, nil
	}
	if s.Getenv("GITHUB_ACTIONS") == "true" {
		gh := s.Getenv(DeployEnvironmentEnv)
		for _, name := range githubEnvironments[s.Env] {
			if strings.EqualFold(gh, name) {
				return fmt.Sprintf("GitHub environment %q protection rules, %s", gh, s.ciRunURL()), nil
			}
		}
		if gh == "" {
			return "", fmt.Errorf("%s: %w: running in GitHub Actions without an environment gate; give the job `environment: %s` (with required reviewers) and set %s: %s, or pass -yes",
				s.Env, ErrNotApproved, githubEnvironments[s.Env][1], DeployEnvironmentEnv, githubEnvironments[s.Env][1])
		}
		return "", fmt.Errorf("%s: %w: the job's GitHub environment is %q (%s), which does not gate %s",
			s.Env, ErrNotApproved, gh, DeployEnvironmentEnv, s.Env)
	}
	if !*s.Opts.Interactive {
		return "", fmt.Errorf("%s: %w: %s needs approval and there is no terminal to ask at; pass -yes (or set APPROVE=1) in automation that has its own approval gate",
			s.Env, ErrNotApproved, s.Env)
	}
	question := fmt.Sprintf("Deploy %s to %s? Type %q to confirm: ", s.Release.Tag, s.Env, s.Env)
	if s.confirm != nil {
		q, err := s.confirm(ctx)
		if err != nil {
			return "", err
		}
		question = q
	} else {
		plan, err := BuildPlan(ctx, s)
		if err != nil {
			return "", fmt.Errorf("work out what the deploy changes: %w", err)
		}
		plan.Render(s.Out)
	}
	s.Printf("%s", question)
	line, err := bufio.NewReader(s.Opts.Stdin).ReadString('\n')
	if err != nil && strings.TrimSpace(line) == "" {
		return "", fmt.Errorf("%s: %w: no answer (%v)", s.Env, ErrNotApproved, err)
	}
	if strings.TrimSpace(line) != s.Env {
		return "", fmt.Errorf("%s: %w: answered %q", s.Env, ErrNotApproved, strings.TrimSpace(line))
	}
	return "confirmed at a terminal by " + who, nil
}
