package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
	"github.com/hitl-mlops/interrupt-agent/magefiles/notify"
)

// badInput is one bad option or input of a CD target.
type badInput struct {
	name string
	env  string
	mod  func(*cd.Options)
	// rollback target, for the rollback target's rows.
	to   cd.RollbackTarget
	want string
	also string // a second problem reported in the same run
}

// TestBadOptionsChangeNothing drives every CD target with each kind of bad
// option (environment, engine, release, flag and setting values) against a
// workspace where the release could otherwise go ahead (v1.0.0 live
// everywhere, v1.1.0 verified in dev and staging), with Slack and
// PagerDuty pointed at local webhooks. Each is refused before the first
// lock, write, record or notification: the emulator's request log holds no
// mutating request, the webhooks heard nothing, and every journal is as it
// was.
func TestBadOptionsChangeNothing(t *testing.T) {
	t.Parallel()
	slack, pd, notifyEnv := localNotify(t)
	w := newWorld(t)
	w.toStaging()
	halfEmail := withEnv(notify.EnvSMTPHost, "127.0.0.1", notify.EnvEmailFrom, "cd@example.test", notify.EnvEmailTo, "oncall@example.test", notify.EnvSMTPPort, "smtp")
	noCases := func(o *cd.Options) {
		// A checkout whose integration cases are missing: verify and
		// the smoke tests could not run.
		root := filepath.Join(t.TempDir(), "clone")
		w.repo.Git("clone", "--quiet", w.repo.Dir, root)
		require.NoError(t, os.Remove(filepath.Join(root, cd.CasesPath)))
		o.Root = root
	}
	unknownEnv := func(string) badInput {
		return badInput{name: "unknown environment", env: "qa", want: `unknown environment "qa"`}
	}
	noEnv := badInput{name: "no environment", env: "", want: "no environment given"}

	targets := map[string]struct {
		run  func(context.Context, cd.Options, cd.RollbackTarget) error
		rows []badInput
	}{
		"deploy": {
			run: func(ctx context.Context, o cd.Options, _ cd.RollbackTarget) error { return cd.Deploy(ctx, o) },
			rows: []badInput{
				unknownEnv("deploy"), noEnv,
				{name: "dev: -engine=bogus", env: cd.EnvDev, mod: func(o *cd.Options) { o.Engine = "bogus" }, want: `-engine: unknown deploy engine "bogus"`},
				{name: "dev: DEPLOY_ENGINE=bogus", env: cd.EnvDev, mod: withEnv(cd.DeployEngineEnv, "bogus"), want: `DEPLOY_ENGINE: unknown deploy engine "bogus"`},
				{name: "dev: -engine=cli without the CLI", env: cd.EnvDev, mod: func(o *cd.Options) { o.Engine = "cli" }, want: "the databricks CLI is not on PATH"},
				{name: "dev: -release that is not semver", env: cd.EnvDev, mod: func(o *cd.Options) { o.Release = "v1.x.0" }, want: `bad release tag "v1.x.0"`},
				{name: "dev: SMTP_PORT that is not a port", env: cd.EnvDev, mod: halfEmail, want: `SMTP_PORT="smtp" is not a port number`},
				{name: "staging: -engine=bogus", env: cd.EnvStaging, mod: func(o *cd.Options) { o.Engine = "bogus" }, want: `unknown deploy engine "bogus"`},
				{name: "staging: -release outside dev", env: cd.EnvStaging, mod: func(o *cd.Options) { o.Release = "v9.9.9" }, want: "an explicit release is accepted for dev only"},
				{name: "staging: APPROVE=maybe", env: cd.EnvStaging, mod: func(o *cd.Options) { o.Yes = false; withEnv(cd.ApproveEnv, "maybe")(o) }, want: `APPROVE="maybe"`},
				{name: "staging: SLACK_WEBHOOK_URL that is not a URL", env: cd.EnvStaging, mod: withEnv(notify.EnvSlackWebhookURL, "hooks/T/B/"+plantedWebhookToken), want: "SLACK_WEBHOOK_URL is not an http(s) URL"},
				{name: "prod: -engine=bogus", env: cd.EnvProd, mod: func(o *cd.Options) { o.Engine = "bogus" }, want: `unknown deploy engine "bogus"`},
				{name: "prod: CANARY_PROBES=sometimes", env: cd.EnvProd, mod: withEnv(cd.CanaryProbesEnv, "sometimes"), want: `CANARY_PROBES="sometimes"`},
				{name: "prod: canary percent out of range", env: cd.EnvProd, mod: func(o *cd.Options) { o.Vars["canary_traffic_percent"] = "150" }, want: "canary_traffic_percent"},
				{name: "prod: no smoke cases", env: cd.EnvProd, mod: noCases, want: "verify settings"},
				{name: "prod: two bad inputs, both reported", env: cd.EnvProd, mod: func(o *cd.Options) { o.Engine = "bogus"; withEnv(cd.CanaryProbesEnv, "sometimes")(o) }, want: `CANARY_PROBES="sometimes"`, also: `unknown deploy engine "bogus"`},
			},
		},
		"verify": {
			run: func(ctx context.Context, o cd.Options, _ cd.RollbackTarget) error { return cd.RunVerify(ctx, o) },
			rows: []badInput{
				unknownEnv("verify"), noEnv,
				{name: "dev: no integration cases", env: cd.EnvDev, mod: noCases, want: "verify settings"},
				{name: "staging: no integration cases", env: cd.EnvStaging, mod: noCases, want: "verify settings"},
				{name: "prod: load duration that is not a duration", env: cd.EnvProd, mod: func(o *cd.Options) { o.Load = true; o.Vars["load_duration"] = "soon" }, want: "load_duration"},
			},
		},
		"rollback": {
			run: func(ctx context.Context, o cd.Options, to cd.RollbackTarget) error { return cd.Rollback(ctx, o, to) },
			rows: []badInput{
				unknownEnv("rollback"), noEnv,
				{name: "-to that is not a tag", env: cd.EnvProd, to: cd.RollbackTarget{Release: "latest"}, want: `-to="latest"`},
				{name: "-to and -version", env: cd.EnvProd, to: cd.RollbackTarget{Release: "v1.0.0", Version: "1"}, want: "not both"},
				{name: "-version that is not a number", env: cd.EnvProd, to: cd.RollbackTarget{Version: "abc"}, want: `-version="abc"`},
				{name: "-to a release prod never had", env: cd.EnvProd, to: cd.RollbackTarget{Release: "v9.9.9"}, want: "prod has no record of release v9.9.9"},
				{name: "-version the registry lacks", env: cd.EnvProd, to: cd.RollbackTarget{Version: "99"}, want: "has no version 99"},
				{name: "APPROVE=maybe", env: cd.EnvProd, to: cd.RollbackTarget{Release: "v1.0.0"}, mod: func(o *cd.Options) { o.Yes = false; withEnv(cd.ApproveEnv, "maybe")(o) }, want: `APPROVE="maybe"`},
				{name: "no approval and no terminal", env: cd.EnvStaging, to: cd.RollbackTarget{Version: "1"}, mod: func(o *cd.Options) { o.Yes = false }, want: "needs approval"},
				{name: "SMTP_PORT that is not a port", env: cd.EnvProd, to: cd.RollbackTarget{Release: "v1.0.0"}, mod: halfEmail, want: `SMTP_PORT="smtp"`},
				{name: "no smoke cases", env: cd.EnvProd, to: cd.RollbackTarget{Release: "v1.0.0"}, mod: noCases, want: "verify settings"},
			},
		},
		"unlock": {
			run: func(ctx context.Context, o cd.Options, _ cd.RollbackTarget) error {
				_, err := cd.Unlock(ctx, o)
				return err
			},
			rows: []badInput{
				unknownEnv("unlock"), noEnv,
				{name: "APPROVE=maybe", env: cd.EnvProd, mod: func(o *cd.Options) { o.Yes = false; withEnv(cd.ApproveEnv, "maybe")(o) }, want: `APPROVE="maybe"`},
			},
		},
		"plan": {
			run: func(ctx context.Context, o cd.Options, _ cd.RollbackTarget) error {
				_, err := cd.Plan(ctx, o)
				return err
			},
			rows: []badInput{unknownEnv("plan"), noEnv},
		},
		"status": {
			run: func(ctx context.Context, o cd.Options, _ cd.RollbackTarget) error {
				_, err := cd.Status(ctx, o)
				return err
			},
			rows: []badInput{unknownEnv("status"), noEnv},
		},
	}
	journals := func() string {
		var out string
		for _, env := range allEnvs {
			for _, r := range w.records(env) {
				out += fmt.Sprintf("%s %s %s %s\n", env, r.ID, r.Release, r.Outcome)
			}
		}
		return out
	}
	before := journals()
	traffic := w.traffic(cd.EnvProd)
	for _, target := range []string{"deploy", "verify", "rollback", "unlock", "plan", "status"} {
		tg := targets[target]
		for _, row := range tg.rows {
			t.Run(target+"/"+row.name, func(t *testing.T) {
				w.srv.ResetRequests()
				r := w.run(row.env, notifyEnv)
				if row.mod != nil {
					row.mod(&r.Opts)
				}
				err := tg.run(w.ctx, r.Opts, row.to)
				require.Error(t, err, r.Output())
				assert.Contains(t, err.Error(), row.want)
				assert.Contains(t, err.Error(), row.also)
				assert.NotContains(t, err.Error()+r.Output(), plantedWebhookToken)
				w.noMutation(target + " " + row.name)
				assert.Empty(t, slack.received(), "no Slack message")
				assert.Empty(t, pd.received(), "no PagerDuty event")
			})
		}
	}
	assert.Equal(t, before, journals(), "every journal is as it was")
	assert.Equal(t, traffic, w.traffic(cd.EnvProd), "prod serves what it served")
}
