package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/redact"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace"
)

const backupDir = "/Workspace/Users/deployer/.bundle/agent/prod/backups/prod"

// backups keeps backups in the emulator's workspace files (the store every
// machine shares) and a local artifacts folder, at a fixed time.
func (wd *world) backups(t *testing.T, at time.Time) (*Backups, string) {
	local := t.TempDir()
	return &Backups{
		Env: "prod", Store: workspace.Files{API: wd.w.Workspace}, Dir: backupDir,
		Local: release.DirStore{Dir: local}, LocalDir: "backups/prod",
		Now: func() time.Time { return at },
	}, local
}

var backupTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestBackupTakesTheServedConfig(t *testing.T) {
	wd := newWorld(t, worldOpts{})
	withEnv := wd.stable
	withEnv.EnvironmentVars = map[string]string{"OPENAI_KEY": "{{secrets/agent/openai}}", "FEATURE_FLAG_TOKEN": "plain-value-1234"}
	wd.serve([]Entity{withEnv}, []int{100})
	bs, local := wd.backups(t, backupTime)
	rec := &release.Record{ID: "r-1", Env: "prod", Release: "v1.1.0", Outcome: release.OutcomeInProgress}

	b, name, err := bs.Take(testCtx(t), wd.api, testEndpoint, BackupInput{
		Release: "v1.1.0", StableModel: &ModelRef{Name: testModel, Version: wd.stable.EntityVersion}, Record: rec,
	})
	require.NoError(t, err)
	assert.Equal(t, backupDir+"/20250601T120000Z-v1.1.0.json", name)
	assert.Equal(t, "prod", b.Env)
	assert.Equal(t, "v1.1.0", b.Release)
	assert.Equal(t, backupTime, b.Taken)
	assert.Equal(t, &ModelRef{Name: testModel, Version: wd.stable.EntityVersion}, b.StableModel)
	e := b.Endpoint
	assert.True(t, e.Exists)
	assert.Equal(t, map[string]string{"release": "v1.0.0"}, e.Tags)
	assert.Equal(t, "READY", e.Ready)
	assert.Equal(t, "NOT_UPDATING", e.ConfigUpdate)
	require.Len(t, e.ServedEntities, 1)
	assert.Equal(t, withEnv.EnvironmentVars, e.ServedEntities[0].EnvironmentVars)
	assert.False(t, e.ServedEntities[0].ScaleToZeroEnabled)
	assert.Equal(t, "Small", e.ServedEntities[0].WorkloadSize)
	assert.Equal(t, []string{wd.stable.Name + " 100"}, routes(serving.EndpointCoreConfigInput{TrafficConfig: &serving.TrafficConfig{Routes: e.Routes}}))

	// The workspace copy restores exactly; the record rides along.
	ws, err := bs.Load(testCtx(t), name)
	require.NoError(t, err)
	var got release.Record
	require.NoError(t, json.Unmarshal(ws.Record, &got))
	assert.Equal(t, "r-1", got.ID)
	cfg, err := ws.Config()
	require.NoError(t, err)
	assert.Equal(t, withEnv.EnvironmentVars, cfg.ServedEntities[0].EnvironmentVars)
	// Scale to zero off survives the round trip through the backup file
	// and goes on the wire (the service refuses an entity without it).
	raw, err := json.Marshal(cfg.ServedEntities[0])
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"scale_to_zero_enabled":false`)

	// The artifacts copy masks plain values but keeps secret references.
	data, err := release.DirStore{Dir: local}.Read(context.Background(), "backups/prod/20250601T120000Z-v1.1.0.json")
	require.NoError(t, err)
	assert.NotContains(t, string(data), "plain-value-1234")
	lb, err := ParseBackup(data)
	require.NoError(t, err)
	assert.True(t, lb.Redacted)
	assert.Equal(t, map[string]string{"OPENAI_KEY": "{{secrets/agent/openai}}", "FEATURE_FLAG_TOKEN": redact.Mask}, lb.Endpoint.ServedEntities[0].EnvironmentVars)
	_, err = lb.Config()
	require.ErrorContains(t, err, "use the workspace copy")
	assert.FileExists(t, filepath.Join(local, "backups", "prod", "20250601T120000Z-v1.1.0.json"))
}

func TestBackupsListAndLatest(t *testing.T) {
	wd := newWorld(t, worldOpts{})
	bs, _ := wd.backups(t, backupTime)
	ctx := testCtx(t)

	_, _, err := bs.Latest(ctx)
	require.ErrorIs(t, err, ErrNoBackup)

	_, first, err := bs.Take(ctx, wd.api, testEndpoint, BackupInput{Release: "v1.1.0"})
	require.NoError(t, err)
	_, again, err := bs.Take(ctx, wd.api, testEndpoint, BackupInput{Release: "v1.1.0"})
	require.NoError(t, err)
	assert.Equal(t, backupDir+"/20250601T120000Z.01-v1.1.0.json", again, "a backup is never overwritten")
	bs.Now = func() time.Time { return backupTime.Add(time.Hour) }
	_, newest, err := bs.Take(ctx, wd.api, testEndpoint, BackupInput{Release: "v1.2.0"})
	require.NoError(t, err)

	paths, err := bs.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{first, again, newest}, paths)
	b, p, err := bs.Latest(ctx)
	require.NoError(t, err)
	assert.Equal(t, newest, p)
	assert.Equal(t, "v1.2.0", b.Release)

	_, err = bs.Load(ctx, backupDir+"/nope.json")
	require.ErrorIs(t, err, ErrNoBackup)
}

func TestBackupOfAMissingEndpoint(t *testing.T) {
	wd := newWorld(t, worldOpts{})
	bs, _ := wd.backups(t, backupTime)
	b, _, err := bs.Take(testCtx(t), wd.api, "first-deploy", BackupInput{Release: "v1.0.0"})
	require.NoError(t, err, "a first deploy is backed up as 'no endpoint'")
	assert.False(t, b.Endpoint.Exists)
	_, err = b.Config()
	require.ErrorContains(t, err, "did not exist")
	_, err = RestoreConfig(testCtx(t), wd.api, b, Options{})
	require.ErrorContains(t, err, "no config to restore")
}

// failingStore refuses writes, as a workspace without permission would.
type failingStore struct{ release.Store }

func (failingStore) Write(context.Context, string, []byte, bool) error {
	return errors.New("PERMISSION_DENIED: cannot write")
}

func TestNoBackupIsAnError(t *testing.T) {
	wd := newWorld(t, worldOpts{})
	ctx := testCtx(t)
	local := t.TempDir()
	tests := []struct {
		name string
		bs   *Backups
		want string
	}{
		{"no store", &Backups{Env: "prod"}, "no workspace store"},
		{"workspace refuses", &Backups{Env: "prod", Store: failingStore{}, Dir: backupDir, Local: release.DirStore{Dir: local}, LocalDir: "b"}, "PERMISSION_DENIED"},
		{"artifacts refuse", &Backups{Env: "prod", Store: workspace.Files{API: wd.w.Workspace}, Dir: backupDir, Local: failingStore{}, LocalDir: "b"}, "PERMISSION_DENIED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.bs.Take(ctx, wd.api, testEndpoint, BackupInput{Release: "v1.1.0"})
			require.ErrorContains(t, err, tt.want)
		})
	}
	t.Run("unreadable endpoint", func(t *testing.T) {
		bs, _ := wd.backups(t, backupTime)
		wd.srv.InjectFaults("GET /api/2.0/serving-endpoints/*", emulator500())
		_, _, err := bs.Take(ctx, wd.api, testEndpoint, BackupInput{Release: "v1.1.0"})
		require.ErrorContains(t, err, "backup agent-prod")
	})
}

func TestParseBackupRejects(t *testing.T) {
	for name, data := range map[string]string{
		"not json":       `{`,
		"future format":  `{"format": 2, "endpoint": {"name": "e"}}`,
		"no endpoint":    `{"format": 1}`,
		"unknown format": `{"endpoint": {"name": "e"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseBackup([]byte(data))
			require.Error(t, err)
		})
	}
}

func TestBackupConfigRejectsBrokenTraffic(t *testing.T) {
	b := &Backup{Format: 1, Endpoint: EndpointConfig{Name: "e", Exists: true,
		ServedEntities: []Entity{{Name: "a", EntityName: "m", EntityVersion: "1"}},
		Routes:         []serving.Route{{ServedEntityName: "a", TrafficPercentage: 90}}}}
	_, err := b.Config()
	require.ErrorContains(t, err, "sums to 90%")
	b.Endpoint.ServedEntities = nil
	_, err = b.Config()
	require.ErrorContains(t, err, "served nothing")
}

func TestBackupFileName(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	assert.Equal(t, "20250102T020405Z-v1.2.0-rc.1.json", BackupFileName(at, "v1.2.0-rc.1"))
	assert.Equal(t, "20250102T020405Z-a-b.json", BackupFileName(at, "a/../b"))
	assert.Equal(t, "20250102T020405Z-unreleased.json", BackupFileName(at, ""))
}

func TestRestoreConfigPutsTheBackupBack(t *testing.T) {
	wd := newWorld(t, worldOpts{rate: clientRate})
	wd.serve([]Entity{wd.stable, wd.cand}, []int{80, 20})
	bs, _ := wd.backups(t, backupTime)
	b, _, err := bs.Take(testCtx(t), wd.api, testEndpoint, BackupInput{Release: "v1.1.0"})
	require.NoError(t, err)
	wd.serve([]Entity{wd.cand}, []int{100})
	wd.wire.reset()

	ch, err := RestoreConfig(testCtx(t), wd.api, b, Options{})
	require.NoError(t, err)
	assert.True(t, ch.Updated)
	assert.Equal(t, map[string]int{wd.stable.Name: 80, wd.cand.Name: 20}, wd.traffic())
	assert.Equal(t, map[string]int{wd.cand.Name: 100}, Traffic(ch.Before))
	assert.Equal(t, map[string]int{wd.stable.Name: 80, wd.cand.Name: 20}, Traffic(ch.After))

	ch, err = RestoreConfig(testCtx(t), wd.api, b, Options{})
	require.NoError(t, err)
	assert.False(t, ch.Updated, "already restored: nothing sent")
	assert.Len(t, wd.updates(), 1)
}
