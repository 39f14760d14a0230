package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// TestBadInputChangesNothing: every refusal here happens before anything
// changes in the workspace, and says what to do.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	other := newWorld(t) // a second workspace, for credentials aimed elsewhere
	tests := []struct {
		name  string
		env   string
		setup func(w *world)
		mod   func(*cd.Options)
		want  []string
		// apiRequests says whether reading the workspace is expected before
		// the refusal (connect, reading records); never a change.
		apiRequests bool
	}{
		{
			name: "unknown environment", env: "qa",
			setup: func(w *world) { w.repo.Tag("v1.0.0") },
			want:  []string{`unknown environment "qa": want one of dev, staging, prod`},
		},
		{
			name: "two-number tag", env: cd.EnvDev,
			setup: func(w *world) { w.repo.Tag("v1.2") },
			want:  []string{`bad release tag "v1.2"`, "vMAJOR.MINOR.PATCH[-PRERELEASE]"},
		},
		{
			name: "tag without v", env: cd.EnvDev,
			setup: func(w *world) { w.repo.Tag("1.2.3") },
			want:  []string{"missing the leading v (did you mean v1.2.3?)"},
		},
		{
			name: "no tag on HEAD", env: cd.EnvDev,
			setup: func(w *world) {},
			want:  []string{"no release tag on HEAD", "-release=vX.Y.Z"},
		},
		{
			name: "bad explicit release", env: cd.EnvDev,
			setup: func(w *world) {},
			mod:   func(o *cd.Options) { o.Release = "v1.x.0" },
			want:  []string{`bad release tag "v1.x.0"`},
		},
		{
			name: "explicit release outside dev", env: cd.EnvStaging,
			setup: func(w *world) { w.repo.Tag("v1.0.0") },
			mod:   func(o *cd.Options) { o.Release = "v9.9.9" },
			want:  []string{"an explicit release is accepted for dev only"},
		},
		{
			name: "prerelease to prod", env: cd.EnvProd,
			setup: func(w *world) { w.repo.Tag("v1.1.0-rc.1") },
			want:  []string{"v1.1.0-rc.1 to prod", "prereleases go to dev and staging only", "tag a stable release (e.g. v1.1.0)"},
		},
		{
			name: "prod tag not on main", env: cd.EnvProd,
			setup: func(w *world) {
				w.repo.Git("checkout", "--quiet", "-b", "hotfix")
				w.repo.Commit("unreviewed")
				w.repo.Tag("v2.0.0")
			},
			want: []string{"v2.0.0", "prod deploys only tags whose commit is on main"},
		},
		{
			name: "credentials for another workspace", env: cd.EnvProd,
			setup: func(w *world) { w.repo.Tag("v1.0.0") },
			mod:   withEnv("DATABRICKS_HOST", other.srv.URL()),
			want:  []string{"target prod deploys to", "but the credentials are for " + other.srv.URL(), "refusing to run against the wrong workspace"},
		},
		{
			name: "missing token", env: cd.EnvDev,
			setup: func(w *world) { w.repo.Tag("v1.0.0") },
			mod:   func(o *cd.Options) { o.Getenv = func(string) string { return "" } },
			want:  []string{"no Databricks credentials for target dev", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID + DATABRICKS_CLIENT_SECRET", "DATABRICKS_CONFIG_PROFILE"},
		},
		{
			name: "token the workspace rejects", env: cd.EnvDev,
			setup:       func(w *world) { w.repo.Tag("v1.0.0") },
			mod:         withEnv("DATABRICKS_TOKEN", "dapi-revoked"),
			want:        []string{"credentials rejected"},
			apiRequests: true,
		},
		{
			name: "staging before dev verified it", env: cd.EnvStaging,
			setup:       func(w *world) { w.repo.Tag("v1.0.0") },
			want:        []string{"dev has no release record of v1.0.0", "run deploy:dev and verify:dev"},
			apiRequests: true,
		},
		{
			name: "staging without approval, no terminal", env: cd.EnvStaging,
			setup: func(w *world) {
				w.repo.Tag("v1.0.0")
				w.release(cd.EnvDev)
			},
			mod:         func(o *cd.Options) { o.Yes = false },
			want:        []string{"staging needs approval", "pass -yes (or set APPROVE=1)"},
			apiRequests: true,
		},
		{
			name: "prod in GitHub Actions without an environment gate", env: cd.EnvProd,
			setup: func(w *world) {
				w.repo.Tag("v1.0.0")
				w.release(cd.EnvDev, cd.EnvStaging)
			},
			mod: func(o *cd.Options) {
				o.Yes = false
				withEnv("GITHUB_ACTIONS", "true", "GITHUB_RUN_ID", "42", "GITHUB_REPOSITORY", "acme/agent")(o)
			},
			want:        []string{"without an environment gate", "environment: production", "DEPLOY_ENVIRONMENT"},
			apiRequests: true,
		},
		{
			name: "prod gated by the staging environment", env: cd.EnvProd,
			setup: func(w *world) {
				w.repo.Tag("v1.0.0")
				w.release(cd.EnvDev, cd.EnvStaging)
			},
			mod: func(o *cd.Options) {
				o.Yes = false
				withEnv("GITHUB_ACTIONS", "true", "GITHUB_RUN_ID", "42", "DEPLOY_ENVIRONMENT", "staging")(o)
			},
			want:        []string{`the job's GitHub environment is "staging"`, "does not gate prod"},
			apiRequests: true,
		},
		{
			name: "verify with nothing deployed", env: cd.EnvDev,
			setup:       func(w *world) { w.repo.Tag("v1.0.0") },
			want:        []string{"dev has no deploy record: run deploy:dev first"},
			apiRequests: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			tt.setup(w)
			w.srv.ResetRequests()
			r := w.run(tt.env)
			if tt.mod != nil {
				tt.mod(&r.Opts)
			}
			var err error
			if tt.name == "verify with nothing deployed" {
				err = cd.RunVerify(context.Background(), r.Opts)
			} else {
				err = cd.Deploy(context.Background(), r.Opts)
			}
			require.Error(t, err, r.Output())
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error()+r.Output(), w.srv.Token(), "the token is never printed")
			w.noMutation(tt.name)
			if !tt.apiRequests {
				w.noRequests(tt.name)
			}
		})
	}
}

// TestApprovals covers the ways approval is given.
func TestApprovals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mod     func(*cd.Options)
		want    string
		wantErr string
	}{
		{name: "-yes", mod: func(o *cd.Options) { o.Yes = true }, want: "-yes by emulator@localhost"},
		{name: "APPROVE=1", mod: withEnv("APPROVE", "1"), want: "APPROVE=1 by emulator@localhost"},
		{
			name: "GitHub environment",
			mod:  withEnv("GITHUB_ACTIONS", "true", "GITHUB_RUN_ID", "7", "GITHUB_REPOSITORY", "acme/agent", "DEPLOY_ENVIRONMENT", "staging"),
			want: `GitHub environment "staging" protection rules, https://github.com/acme/agent/actions/runs/7`,
		},
		{
			name: "confirmed at a terminal",
			mod:  terminal("staging\n"),
			want: "confirmed at a terminal by emulator@localhost",
		},
		{name: "declined at a terminal", mod: terminal("y\n"), wantErr: `not approved: answered "y"`},
		{name: "no answer at a terminal", mod: terminal(""), wantErr: "not approved: no answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.repo.Tag("v1.0.0")
			w.release(cd.EnvDev)
			w.srv.ResetRequests()
			r := w.run(cd.EnvStaging, func(o *cd.Options) { o.Yes = false }, tt.mod)
			err := cd.Deploy(context.Background(), r.Opts)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				w.noMutation(tt.name)
				return
			}
			require.NoError(t, err, r.Output())
			assert.Equal(t, tt.want, w.latest(cd.EnvStaging).Approval)
			if tt.name == "confirmed at a terminal" {
				out := r.Output()
				assert.Contains(t, out, "Plan for staging")
				assert.Contains(t, out, "before: nothing served")
				assert.Contains(t, out, "Type \"staging\" to confirm")
			}
		})
	}
}

func terminal(input string) func(*cd.Options) {
	return func(o *cd.Options) {
		yes := true
		o.Interactive = &yes
		o.Stdin = stringsReader(input)
	}
}
