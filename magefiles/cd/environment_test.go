package cd

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// testEnv is the environment named name, as its name alone decides it.
func testEnv(t *testing.T, name string) Environment {
	t.Helper()
	env, err := environmentNamed(name)
	require.NoError(t, err)
	return env
}

// Each environment's policy, as the flows ask it.
func TestEnvironmentPolicy(t *testing.T) {
	dev, staging, prod := testEnv(t, EnvDev), testEnv(t, EnvStaging), testEnv(t, EnvProd)

	for _, env := range []Environment{dev, staging, prod} {
		assert.Equal(t, env.Name(), env.String())
	}
	_, promoted := dev.PromotesFrom()
	assert.False(t, promoted, "releases start in dev")
	from, _ := staging.PromotesFrom()
	assert.Equal(t, EnvDev, from)
	from, _ = prod.PromotesFrom()
	assert.Equal(t, EnvStaging, from)

	assert.Equal(t, []bool{true, false, false}, []bool{dev.TrainsEveryRelease(), staging.TrainsEveryRelease(), prod.TrainsEveryRelease()})
	assert.Equal(t, []bool{true, false, false}, []bool{dev.AllowsReleaseOverride(), staging.AllowsReleaseOverride(), prod.AllowsReleaseOverride()})
	assert.Equal(t, []bool{false, true, true}, []bool{dev.NeedsApproval(), staging.NeedsApproval(), prod.NeedsApproval()})
	assert.Equal(t, []bool{false, false, true}, []bool{dev.Production(), staging.Production(), prod.Production()})
	assert.Equal(t, []bool{false, false, true}, []bool{dev.RollsOutCanary(), staging.RollsOutCanary(), prod.RollsOutCanary()})
	assert.Equal(t, []bool{false, true, false}, []bool{dev.AlwaysLoadTests(), staging.AlwaysLoadTests(), prod.AlwaysLoadTests()})
	assert.Equal(t, []release.Outcome{release.OutcomeDeployed, release.OutcomeDeployed, release.OutcomeStable},
		[]release.Outcome{dev.DeploySuccess(), staging.DeploySuccess(), prod.DeploySuccess()})
	assert.Equal(t, "production", prod.GitHubEnvironments()[1])
}

// A target in mode: production is production whatever its name; nothing
// else of its policy changes.
func TestEnvironmentOfProductionTarget(t *testing.T) {
	staging, err := environmentOf(EnvStaging, &bundle.Bundle{Mode: bundle.ModeProduction})
	require.NoError(t, err)
	assert.True(t, staging.Production())
	assert.False(t, staging.RollsOutCanary())
	dev, err := environmentOf(EnvDev, &bundle.Bundle{Mode: bundle.ModeDevelopment})
	require.NoError(t, err)
	assert.False(t, dev.Production())
	_, err = environmentOf("qa", &bundle.Bundle{})
	assert.EqualError(t, err, `unknown environment "qa": want one of dev, staging, prod`)
}
