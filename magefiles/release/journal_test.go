package release

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepClock returns t0, t0+1s, t0+2s, ... on successive calls.
func stepClock(t0 time.Time) func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return t0.Add(time.Duration(n-1) * time.Second)
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestJournal(t *testing.T) (*Journal, string, string) {
	ws, local := t.TempDir(), t.TempDir()
	return &Journal{
		Env: "dev", Store: DirStore{Dir: ws}, Dir: "/root/releases/dev",
		Mirror: DirStore{Dir: local}, MirrorDir: "dev", Now: stepClock(t0),
	}, ws, local
}

func TestJournalLifecycle(t *testing.T) {
	ctx := context.Background()
	j, ws, local := newTestJournal(t)

	_, err := j.Latest(ctx)
	require.ErrorIs(t, err, ErrNoRecord, "empty journal")

	r1 := &Record{Release: "v1.0.0", SHA: "abc", Model: &ModelVersionRef{Name: "m", Version: "1"}}
	require.NoError(t, j.Begin(ctx, r1))
	assert.Equal(t, "20250301T120000.000Z-deploy-v1.0.0", r1.ID)
	assert.Equal(t, OutcomeInProgress, r1.Outcome)
	assert.Equal(t, "dev", r1.Env)
	r1.SetStage(StageResult{Name: "train", Status: StageOK})
	r1.SetStage(StageResult{Name: "train", Status: StageFailed, Detail: "again"})
	require.Len(t, r1.Stages, 1, "a re-run replaces the stage entry")
	require.NoError(t, j.Finish(ctx, r1, OutcomeDeployed, nil))

	r2 := &Record{Release: "v1.1.0"}
	require.NoError(t, j.Begin(ctx, r2))
	require.NoError(t, j.Finish(ctx, r2, OutcomeFailed, errors.New("train: run FAILED")))

	latest, err := j.Latest(ctx)
	require.NoError(t, err)
	assert.Equal(t, "v1.1.0", latest.Release)
	assert.Equal(t, OutcomeFailed, latest.Outcome)
	assert.Equal(t, "train: run FAILED", latest.Error)
	require.NotNil(t, latest.Finished)

	good, err := j.LatestWhere(ctx, func(r *Record) bool { return r.Outcome == OutcomeDeployed })
	require.NoError(t, err)
	assert.Equal(t, "v1.0.0", good.Release)
	assert.Equal(t, "1", good.Model.Version)
	assert.Equal(t, StageFailed, good.Stage("train").Status)

	updated, err := j.Update(ctx, r1.ID, func(r *Record) error {
		r.Outcome = OutcomeVerified
		r.Verify = &VerifySummary{Passed: true}
		return nil
	})
	require.NoError(t, err)
	assert.True(t, updated.Good())

	all, err := j.List(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, []string{"v1.0.0", "v1.1.0"}, []string{all[0].Release, all[1].Release}, "oldest first")
	assert.Equal(t, OutcomeVerified, all[0].Outcome)

	// The workspace copy and the local copy are the same bytes.
	for _, id := range []string{r1.ID, r2.ID} {
		a, err := os.ReadFile(filepath.Join(ws, "root/releases/dev", id+".json"))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(local, "dev", id+".json"))
		require.NoError(t, err)
		assert.JSONEq(t, string(a), string(b))
	}
}

func TestJournalSameInstantGetsDistinctIDs(t *testing.T) {
	ctx := context.Background()
	j, _, _ := newTestJournal(t)
	j.Now = func() time.Time { return t0 }
	a, b := &Record{Release: "v1.0.0"}, &Record{Release: "v1.0.0"}
	require.NoError(t, j.Begin(ctx, a))
	require.NoError(t, j.Begin(ctx, b))
	assert.NotEqual(t, a.ID, b.ID)
	assert.Equal(t, a.ID+"-2", b.ID)
}

func TestJournalSaveUnbegun(t *testing.T) {
	j, _, _ := newTestJournal(t)
	assert.ErrorContains(t, j.Save(context.Background(), &Record{}), "never begun")
}

func TestJournalCorruptRecord(t *testing.T) {
	ctx := context.Background()
	j, ws, _ := newTestJournal(t)
	require.NoError(t, os.MkdirAll(filepath.Join(ws, "root/releases/dev"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ws, "root/releases/dev/x.json"), []byte("{"), 0o644))
	_, err := j.Latest(ctx)
	assert.ErrorContains(t, err, "record x is not valid JSON")
	_, err = j.Get(ctx, "missing")
	assert.ErrorIs(t, err, ErrNoRecord)
}

func TestRecordAttachments(t *testing.T) {
	r := &Record{ID: "r"}
	type backup struct{ Path string }
	var got backup
	ok, err := r.Attachment("backup", &got)
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, r.Attach("backup", backup{Path: "/b/1.json"}))
	ok, err = r.Attachment("backup", &got)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "/b/1.json", got.Path)
}
