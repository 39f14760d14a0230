package rollout

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

func emulator500() emulator.Fault { return emulator.Fault500 }

func TestRollbackTo(t *testing.T) {
	tests := []struct {
		name    string
		leave   func(wd *world)
		target  func(wd *world) Entity
		want    func(wd *world) map[string]int
		updated bool
	}{
		{
			name:  "to the previous version after a promotion",
			leave: func(wd *world) { wd.serve([]Entity{wd.cand}, []int{100}) },
			target: func(wd *world) Entity {
				return Entity{EntityName: testModel, EntityVersion: wd.stable.EntityVersion, WorkloadSize: "Small", ScaleToZeroEnabled: true}
			},
			want:    func(wd *world) map[string]int { return map[string]int{wd.stable.Name: 100} },
			updated: true,
		},
		{
			name:  "to a version the endpoint serves beside another keeps its name",
			leave: func(wd *world) { wd.serve([]Entity{wd.stable, wd.cand}, []int{90, 10}) },
			target: func(wd *world) Entity {
				e := wd.stable
				e.Name = ""
				return e
			},
			want:    func(wd *world) map[string]int { return map[string]int{wd.stable.Name: 100} },
			updated: true,
		},
		{
			name:    "to the version already served changes nothing",
			leave:   func(*world) {},
			target:  func(wd *world) Entity { return wd.stable },
			want:    func(wd *world) map[string]int { return map[string]int{wd.stable.Name: 100} },
			updated: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd := newWorld(t, worldOpts{})
			tt.leave(wd)
			before := wd.traffic()
			wd.wire.reset()
			wd.srv.ResetRequests()
			pv, err := PreviewRollback(testCtx(t), wd.api, testEndpoint, tt.target(wd))
			require.NoError(t, err)
			assert.Equal(t, !tt.updated, pv.Noop)
			if tt.updated {
				assert.Contains(t, pv.Text, "-> agent-prod v1 (agent-prod-1) at 100%")
			} else {
				assert.Contains(t, pv.Text, "nothing to change")
			}
			assert.Equal(t, []string{wd.stable.Name + " 100"}, routes(pv.Config))
			assert.Empty(t, wd.srv.MutatingRequests(), "a preview changes nothing")
			out := &syncBuffer{}
			ch, err := RollbackTo(testCtx(t), wd.api, testEndpoint, tt.target(wd), Options{Out: out})
			require.NoError(t, err)
			assert.Equal(t, tt.updated, ch.Updated)
			assert.Equal(t, tt.want(wd), wd.traffic())
			assert.Equal(t, before, Traffic(ch.Before))
			assert.Equal(t, tt.want(wd), Traffic(ch.After))
			if tt.updated {
				assert.Len(t, wd.updates(), 1)
				assert.Contains(t, out.String(), "READY: "+wd.stable.Name+" 100%")
			} else {
				assert.Empty(t, wd.srv.MutatingRequests())
				assert.Contains(t, out.String(), "nothing to change")
			}
		})
	}
}

func TestRollbackRefuses(t *testing.T) {
	t.Run("a model version that does not exist changes nothing", func(t *testing.T) {
		wd := newWorld(t, worldOpts{})
		_, err := RollbackTo(testCtx(t), wd.api, testEndpoint, Entity{EntityName: testModel, EntityVersion: "99"}, Options{})
		require.ErrorContains(t, err, "does not exist")
		assert.ErrorContains(t, err, "nothing was changed")
		assert.Len(t, wd.updates(), 1, "one refused attempt, not retried")
		assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
	})
	t.Run("a missing endpoint", func(t *testing.T) {
		wd := newWorld(t, worldOpts{})
		_, err := RollbackTo(testCtx(t), wd.api, "nope", wd.stable, Options{})
		require.ErrorIs(t, err, ErrEndpointMissing)
		assert.Empty(t, wd.srv.MutatingRequests())
	})
	t.Run("a target without a version", func(t *testing.T) {
		_, err := RollbackTo(testCtx(t), nil, testEndpoint, Entity{EntityName: testModel}, Options{})
		require.ErrorContains(t, err, "entity_name and entity_version")
		_, err = PreviewRollback(testCtx(t), nil, testEndpoint, Entity{EntityName: testModel})
		require.ErrorContains(t, err, "entity_name and entity_version")
	})
	t.Run("a preview of a missing endpoint", func(t *testing.T) {
		wd := newWorld(t, worldOpts{})
		_, err := PreviewRollback(testCtx(t), wd.api, "nope", wd.stable)
		require.ErrorIs(t, err, ErrEndpointMissing)
	})
	t.Run("a refused update is retried", func(t *testing.T) {
		wd := newWorld(t, worldOpts{})
		wd.serve([]Entity{wd.cand}, []int{100})
		wd.wire.reset()
		wd.srv.InjectFaults("PUT /api/2.0/serving-endpoints/*/config", emulator.Fault500)
		ch, err := RollbackTo(testCtx(t), wd.api, testEndpoint, wd.stable, Options{Clock: wd.clock, Backoff: 1})
		require.NoError(t, err)
		assert.True(t, ch.Updated)
		assert.Len(t, wd.updates(), 2)
		assert.Equal(t, map[string]int{wd.stable.Name: 100}, wd.traffic())
	})
}
