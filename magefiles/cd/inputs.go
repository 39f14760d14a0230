package cd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

// DeployEngineEnv chooses the deploy engine when -engine is not given.
const DeployEngineEnv = "DEPLOY_ENGINE"

// CheckInputs checks, offline and before anything changes, every input a
// flow would otherwise read only half way through: the deploy engine, the
// yes/no settings from the environment, the notification channels' settings,
// the canary plan and the verify settings. Each problem is reported, not the
// first one only. It needs the bundle target (LoadConfig).
type CheckInputs struct {
	// Engine: the flow deploys the bundle (-engine, DEPLOY_ENGINE).
	Engine bool
	// Approve: the flow asks for an approval (APPROVE).
	Approve bool
	// Notify: the flow sends notifications (SLACK_*, PAGERDUTY_*, SMTP_*).
	Notify bool
	// Canary: the flow rolls out a canary (the bundle's rollout policy,
	// CANARY_PROBES).
	Canary bool
	// Verify: the flow runs verify's or the smoke cases (the cases file,
	// the load-test thresholds).
	Verify bool
}

// Name implements Stage.
func (CheckInputs) Name() string { return "inputs" }

// Run implements Stage.
func (c CheckInputs) Run(_ context.Context, s *State) error {
	var errs []error
	if c.Approve {
		if err := s.checkFlag(ApproveEnv); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Engine {
		if err := s.selectEngine(); err != nil {
			errs = append(errs, err)
		} else if err := s.checkEngineCoversBundle(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Notify {
		if err := s.Notifier().Problems(); err != nil {
			errs = append(errs, fmt.Errorf("notification settings: %w (fix or unset them)", err))
		}
	}
	if c.Canary {
		if err := s.checkFlag(CanaryProbesEnv); err != nil {
			errs = append(errs, err)
		} else if err := s.canaryPlan().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("canary plan of target %s: %w", s.Config.Env, err))
		}
	}
	if c.Verify {
		if _, err := s.VerifyOptions(); err != nil {
			errs = append(errs, fmt.Errorf("verify settings: %w", err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: nothing was changed", errors.Join(errs...))
	}
	var checked []string
	if s.Engine != nil {
		checked = append(checked, "engine "+s.Engine.Name())
	}
	if c.Notify {
		checked = append(checked, "notification settings")
	}
	if c.Canary {
		checked = append(checked, "canary plan")
	}
	if c.Verify {
		checked = append(checked, "verify settings")
	}
	if len(checked) > 0 {
		s.Printf("   %s\n", strings.Join(checked, ", "))
	}
	return nil
}

// selectEngine resolves the deploy engine from -engine, then DEPLOY_ENGINE:
// an unknown name, or the cli engine without the CLI, is refused here.
func (s *State) selectEngine() error {
	if s.Engine != nil {
		return nil
	}
	name, from := s.Opts.Engine, "-engine"
	if name == "" {
		name, from = s.Getenv(DeployEngineEnv), DeployEngineEnv
	}
	e, err := workspace.SelectEngine(strings.TrimSpace(name), s.Opts.LookPath)
	if err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	s.Engine = e
	return nil
}

// checkEngineCoversBundle refuses, before any write, a target the chosen
// engine cannot deploy whole: the sdk engine deploys jobs, models,
// registered models, experiments and serving endpoints, and neither runs
// Python-defined resources nor resolves variable lookups; the Databricks
// CLI does all of it.
func (s *State) checkEngineCoversBundle() error {
	if s.Engine == nil || s.Engine.Name() != workspace.EngineSDK || s.Config == nil || s.Config.Bundle == nil {
		return nil
	}
	if why := s.Config.Bundle.UndeployableBySDK(); why != "" {
		return fmt.Errorf("the sdk engine cannot deploy target %s whole (%s): deploy with -engine=cli (the Databricks CLI deploys every resource type), or give lookups their values with --var", s.Config.Env, why)
	}
	return nil
}

// flagValue reads a yes/no setting of the environment: unset is false; a
// value that is neither yes nor no is an error, never a silent no.
func flagValue(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q: want 1 or 0 (true/false, yes/no)", name, v)
}

func (s *State) checkFlag(name string) error {
	_, err := flagValue(name, s.Getenv(name))
	return err
}

// envFlag is a checked yes/no setting (CheckInputs refused a bad one).
func (s *State) envFlag(name string) bool {
	on, _ := flagValue(name, s.Getenv(name))
	return on
}
