package cd

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// A record left in progress reads as running only while a live lock for
// its release is held; otherwise status says the run is gone.
func TestStatusNeverShowsADeadDeployAsRunning(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rec := &release.Record{ID: "r1", Kind: release.KindDeploy, Release: "v1.1.0", Outcome: release.OutcomeInProgress, Started: now.Add(-time.Hour)}
	for _, tc := range []struct {
		name    string
		lock    *release.Lock
		running bool
	}{
		{"no lock", nil, false},
		{"its lock, live", &release.Lock{Release: "v1.1.0", Expiry: now.Add(time.Hour)}, true},
		{"its lock, expired", &release.Lock{Release: "v1.1.0", Expiry: now.Add(-time.Minute)}, false},
		{"another release's lock", &release.Lock{Release: "v1.2.0", Expiry: now.Add(time.Hour)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			(&StatusReport{Env: EnvProd, Latest: rec, Lock: tc.lock}).Render(&out, now)
			if tc.running {
				assert.Contains(t, out.String(), "v1.1.0 in_progress, by")
			} else {
				assert.Contains(t, out.String(), "v1.1.0 interrupted (its record says in_progress, but no live deploy holds the lock")
			}
		})
	}
}
