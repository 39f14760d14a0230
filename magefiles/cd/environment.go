package cd

import (
	"fmt"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// Environments, in promotion order.
const (
	EnvDev     = "dev"
	EnvStaging = "staging"
	EnvProd    = "prod"
)

// Envs lists the environments a release goes through, in order.
var Envs = []string{EnvDev, EnvStaging, EnvProd}

// Environment is one environment of the pipeline with the policy that sets
// it apart: where its model version comes from, whether a deploy needs
// approval, what its releases must be, how a deploy rolls out and what a
// finished deploy records. The flows ask it; they never compare names.
//
// EnvConfig.Env is the environment as its bundle target declares it (a
// target in mode: production is production whatever its name). Before the
// target is read, environmentNamed gives what the name alone decides: the
// flow to run and its client settings.
type Environment struct {
	name       string
	policy     environmentPolicy
	production bool
}

// environmentPolicy is what the name of an environment decides.
type environmentPolicy struct {
	// promotesFrom is the environment whose verified release this one
	// takes; "" for dev, which trains every release from its commit.
	promotesFrom string
	// releaseOverride accepts -release instead of the tag on HEAD.
	releaseOverride bool
	approval        bool
	production      bool
	// canary: deploy:<env> rolls out as a canary judged against the stable
	// version, then smoke tests.
	canary bool
	// loadTests: verify always runs the load test (elsewhere only -load).
	loadTests bool
	// success is a finished deploy's outcome in the release record.
	success release.Outcome
	// github are the GitHub environment names whose protection rules
	// approve a deploy; the second is the one suggested.
	github []string
}

// policies says how dev, staging and prod differ: nothing else does.
var policies = map[string]environmentPolicy{
	EnvDev: {
		releaseOverride: true, success: release.OutcomeDeployed,
		github: []string{"dev", "development"},
	},
	EnvStaging: {
		promotesFrom: EnvDev, approval: true, loadTests: true, success: release.OutcomeDeployed,
		github: []string{"staging", "stage"},
	},
	EnvProd: {
		// A deploy that passed its canary and its smoke tests is stable.
		promotesFrom: EnvStaging, approval: true, production: true, canary: true, success: release.OutcomeStable,
		github: []string{"prod", "production"},
	},
}

// CheckEnv rejects an environment this pipeline does not know.
func CheckEnv(env string) error {
	_, err := environmentNamed(env)
	return err
}

// environmentNamed is the environment with the policy its name decides.
func environmentNamed(name string) (Environment, error) {
	p, ok := policies[name]
	if ok {
		return Environment{name: name, policy: p, production: p.production}, nil
	}
	if name == "" {
		return Environment{}, fmt.Errorf("no environment given: want one of %s", strings.Join(Envs, ", "))
	}
	return Environment{}, fmt.Errorf("unknown environment %q: want one of %s", name, strings.Join(Envs, ", "))
}

// environmentOf is the environment as its bundle target declares it.
func environmentOf(name string, b *bundle.Bundle) (Environment, error) {
	e, err := environmentNamed(name)
	if err != nil {
		return Environment{}, err
	}
	e.production = e.production || b.Mode == bundle.ModeProduction
	return e, nil
}

// Name is dev, staging or prod.
func (e Environment) Name() string { return e.name }

// String is the name, as every message says it.
func (e Environment) String() string { return e.name }

// Production reports whether releases must be stable tags whose commit is
// on main and deploys need the validation gate's verdict: prod, or a
// target in mode: production.
func (e Environment) Production() bool { return e.production }

// PromotesFrom is the environment whose verified release this one takes
// (staging: dev, prod: staging); false for dev, where releases start.
func (e Environment) PromotesFrom() (string, bool) {
	return e.policy.promotesFrom, e.policy.promotesFrom != ""
}

// TrainsEveryRelease reports whether every deploy trains its version from
// the release's commit (dev), so the target needs exactly one training job
// and no promote job.
func (e Environment) TrainsEveryRelease() bool { return e.policy.promotesFrom == "" }

// AllowsReleaseOverride reports whether a deploy may name its release
// (-release) instead of taking the tag on HEAD.
func (e Environment) AllowsReleaseOverride() bool { return e.policy.releaseOverride }

// NeedsApproval reports whether a deploy needs an approval before it
// changes anything.
func (e Environment) NeedsApproval() bool { return e.policy.approval }

// GitHubEnvironments are the GitHub environment names whose protection
// rules approve a deploy here; the second is the one to suggest.
func (e Environment) GitHubEnvironments() []string { return e.policy.github }

// RollsOutCanary reports whether deploy:<env> rolls out as a canary: its
// plan shows the canary's alias moves, and its client is not throttled, so
// that the canary's probes (which bound their own rate) get through.
func (e Environment) RollsOutCanary() bool { return e.policy.canary }

// AlwaysLoadTests reports whether verify runs the load test without -load.
func (e Environment) AlwaysLoadTests() bool { return e.policy.loadTests }

// DeploySuccess is the outcome a finished deploy records: deployed, or
// stable once the canary and the smoke tests passed.
func (e Environment) DeploySuccess() release.Outcome { return e.policy.success }
