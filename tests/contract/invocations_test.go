package contract

import (
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// A model's own error is the caller's 4xx; 5xx is the platform's. Platform
// faults are injected (Behavior.PlatformErrorRate); each outcome is counted
// against the served entity as the metrics export will show it.
func TestModelErrorsAre4xxPlatformFaults5xx(t *testing.T) {
	tests := []struct {
		name     string
		behavior emulator.Behavior
		check    func(t *testing.T, err error, stats emulator.EntityStats)
	}{
		// Databricks' model serving debugging guide: errors raised by model
		// code are mapped to a 4xx, 5xx is reserved for errors where
		// Databricks is at fault. mlflow/pyfunc/scoring_server wraps any
		// exception from predict() as error_code BAD_REQUEST, "Encountered an
		// unexpected error while evaluating the model...".
		{"the model raises: 400 BAD_REQUEST, counted as 4xx", emulator.Behavior{ErrorRate: 1}, func(t *testing.T, err error, stats emulator.EntityStats) {
			require.ErrorIs(t, err, apierr.ErrBadRequest)
			ae := apiError(t, err)
			assert.Equal(t, 400, ae.StatusCode)
			assert.Equal(t, "BAD_REQUEST", ae.ErrorCode)
			assert.Contains(t, ae.Message, "Encountered an unexpected error while evaluating the model")
			assert.Equal(t, "agent-1", ae.ResponseWrapper.Response.Header.Get("served-model-name"))
			assert.Equal(t, int64(1), stats.Status4xx)
			assert.Zero(t, stats.Status5xx, "a model's exception is never a 5xx")
		}},
		// Same guide: 5xx only where the platform is at fault (injected).
		{"a platform fault: 5xx", emulator.Behavior{PlatformErrorRate: 1}, func(t *testing.T, err error, stats emulator.EntityStats) {
			require.ErrorIs(t, err, apierr.ErrInternalError, "the SDK does not retry a 500")
			assert.Equal(t, int64(1), stats.Status5xx)
		}},
		{"a platform fault with its own status", emulator.Behavior{PlatformErrorRate: 1, PlatformErrorStatus: 504}, func(t *testing.T, err error, stats emulator.EntityStats) {
			assert.Equal(t, 504, apiError(t, err).StatusCode)
			assert.Equal(t, int64(1), stats.Status5xx)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := start(t, emulator.Options{})
			v := ws.serveOne(t, "ep", "agent")
			ws.srv.SetVersionBehavior("agent", v, tt.behavior)
			_, err := ws.query(t, "ep", map[string]any{"thread_id": "t", "message": "delete x"})
			tt.check(t, err, ws.srv.EntityStats("ep")["agent-"+v])
		})
	}
}
