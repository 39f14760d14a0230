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

// ErrNotApproved is wrapped when a deploy lacks its approval.
var ErrNotApproved = errors.New("not approved")

// Approve gets the approval an environment needs (staging and prod), before
// anything changes: GitHub environment protection in Actions, a
// confirmation at a terminal, or -yes / APPROVE=1. Dev needs none.
type Approve struct{}

// Name implements Stage.
func (Approve) Name() string { return "approve" }

// Run implements Stage.
func (Approve) Run(ctx context.Context, s *State) error {
	if env := s.Config.Env; !env.NeedsApproval() {
		return Skip("%s needs no approval", env)
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
	env := s.Config.Env
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
		names := env.GitHubEnvironments()
		for _, name := range names {
			if strings.EqualFold(gh, name) {
				return fmt.Sprintf("GitHub environment %q protection rules, %s", gh, s.ciRunURL()), nil
			}
		}
		if gh == "" {
			return "", fmt.Errorf("%s: %w: running in GitHub Actions without an environment gate; give the job `environment: %s` (with required reviewers) and set %s: %s, or pass -yes",
				env, ErrNotApproved, names[1], DeployEnvironmentEnv, names[1])
		}
		return "", fmt.Errorf("%s: %w: the job's GitHub environment is %q (%s), which does not gate %s",
			env, ErrNotApproved, gh, DeployEnvironmentEnv, env)
	}
	if !*s.Opts.Interactive {
		return "", fmt.Errorf("%s: %w: %s needs approval and there is no terminal to ask at; pass -yes (or set APPROVE=1) in automation that has its own approval gate",
			env, ErrNotApproved, env)
	}
	question := fmt.Sprintf("Deploy %s to %s? Type %q to confirm: ", s.Release.Tag, env, env.Name())
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
		return "", fmt.Errorf("%s: %w: no answer (%v)", env, ErrNotApproved, err)
	}
	if strings.TrimSpace(line) != env.Name() {
		return "", fmt.Errorf("%s: %w: answered %q", env, ErrNotApproved, strings.TrimSpace(line))
	}
	return "confirmed at a terminal by " + who, nil
}
