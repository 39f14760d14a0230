package rollout

import (
	"context"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notReadyYet answers reads with NOT_READY a number of times first: the
// emulator is READY whenever it serves a config, so the READY poll after
// NOT_UPDATING needs a server that lags.
type notReadyYet struct {
	Endpoints
	left  int
	reads int
}

func (n *notReadyYet) GetByName(context.Context, string) (*serving.ServingEndpointDetailed, error) {
	n.reads++
	st := &serving.EndpointState{ConfigUpdate: serving.EndpointStateConfigUpdateNotUpdating, Ready: serving.EndpointStateReadyReady}
	if n.left > 0 {
		n.left--
		st.Ready = serving.EndpointStateReadyNotReady
	}
	return &serving.ServingEndpointDetailed{Name: "ep", State: st}, nil
}

// stepClock is virtual time that moves only by Sleep.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestWaitReady(t *testing.T) {
	t.Run("polls with growing pauses until READY", func(t *testing.T) {
		api := &notReadyYet{left: 3}
		clock := &stepClock{now: time.Unix(0, 0)}
		d := &driver{api: api, endpoint: "ep", o: Options{Clock: clock}.withDefaults()}
		ep, err := d.waitReady(context.Background())
		require.NoError(t, err)
		assert.True(t, ready(ep))
		assert.Equal(t, 4, api.reads)
		assert.Equal(t, 6*time.Second, clock.now.Sub(time.Unix(0, 0)), "1s + 2s + 3s")
	})
	t.Run("gives up after the update timeout", func(t *testing.T) {
		api := &notReadyYet{left: 1000}
		d := &driver{api: api, endpoint: "ep", o: Options{Clock: &stepClock{}, UpdateTimeout: time.Minute}.withDefaults()}
		_, err := d.waitReady(context.Background())
		require.ErrorContains(t, err, "not READY after 1m0s (NOT_UPDATING, NOT_READY)")
	})
	t.Run("stops when cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		d := &driver{api: &notReadyYet{left: 1000}, endpoint: "ep", o: Options{Clock: &stepClock{}}.withDefaults()}
		_, err := d.waitReady(ctx)
		require.ErrorIs(t, err, context.Canceled)
	})
	assert.Equal(t, "unknown state", stateText(nil))
}

func TestUpdateFailedErrorText(t *testing.T) {
	e := &UpdateFailedError{Endpoint: "ep", State: "UPDATE_FAILED", Served: "m-2", Logs: "boom"}
	assert.Equal(t, "endpoint ep: config update failed (UPDATE_FAILED); the previous config keeps serving\nbuild logs of m-2 (last 20 lines):\nboom", e.Error())
	long := ""
	for i := range 30 {
		long += string(rune('a'+i%26)) + "\n"
	}
	assert.Equal(t, 20, len(tail(long, 20))/2+1)
}
