package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/workspace/forcesend"
)

// Endpoints is the part of the SDK's serving API the rollout uses;
// w.ServingEndpoints satisfies it.
type Endpoints interface {
	Querier
	EndpointReader
	UpdateConfig(ctx context.Context, in serving.EndpointCoreConfigInput) (*serving.WaitGetServingEndpointNotUpdating[serving.ServingEndpointDetailed], error)
	WaitGetServingEndpointNotUpdating(ctx context.Context, name string, timeout time.Duration, callback func(*serving.ServingEndpointDetailed)) (*serving.ServingEndpointDetailed, error)
	ExportMetrics(ctx context.Context, req serving.ExportMetricsRequest) (*serving.ExportMetricsResponse, error)
	BuildLogsByNameAndServedModelName(ctx context.Context, name string, servedModelName string) (*serving.BuildLogsResponse, error)
}

var _ Endpoints = (serving.ServingEndpointsInterface)(nil)

// Options are shared by every operation that changes an endpoint.
type Options struct {
	// Clock paces analysis intervals and READY polls; nil is the wall clock.
	Clock Clock
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// UpdateTimeout bounds one config update's wait; default 30 minutes.
	UpdateTimeout time.Duration
	// RestoreAttempts is how often a restoring update (abort, rollback) is
	// tried before giving up; default 4. Every config is complete, so a
	// retry cannot do harm.
	RestoreAttempts int
	// Backoff is the first pause between restore attempts, doubling;
	// default 2s.
	Backoff time.Duration
	// OnUpdate, when set, hears every config the rollout sends, before it
	// is sent (audit logs, tests of the traffic invariants).
	OnUpdate func(serving.EndpointCoreConfigInput)
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = WallClock{}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.UpdateTimeout <= 0 {
		o.UpdateTimeout = 30 * time.Minute
	}
	if o.RestoreAttempts <= 0 {
		o.RestoreAttempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 2 * time.Second
	}
	return o
}

// UpdateFailedError is a config update that did not take: the call was
// refused, or the update ended UPDATE_FAILED. Either way the previous
// config keeps serving.
type UpdateFailedError struct {
	Endpoint string
	// State is the endpoint's config_update state when it failed (empty
	// when the call itself was refused).
	State string
	// Served and Logs name the entity whose build failed and its logs' tail.
	Served, Logs string
	Cause        error
}

// BuildLogLines is how much of a failed build's log an error keeps.
const BuildLogLines = 20

func (e *UpdateFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "endpoint %s: config update failed", e.Endpoint)
	if e.State != "" {
		fmt.Fprintf(&b, " (%s)", e.State)
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	b.WriteString("; the previous config keeps serving")
	if e.Logs != "" {
		fmt.Fprintf(&b, "\nbuild logs of %s (last %d lines):\n%s", e.Served, BuildLogLines, e.Logs)
	}
	return b.String()
}

func (e *UpdateFailedError) Unwrap() error { return e.Cause }

// ErrEndpointMissing is returned when the endpoint does not exist.
var ErrEndpointMissing = errors.New("serving endpoint does not exist")

// driver performs the endpoint I/O of one operation.
type driver struct {
	api      Endpoints
	endpoint string
	o        Options
	updates  int
}

func (d *driver) printf(format string, args ...any) {
	fmt.Fprintf(d.o.Out, format, args...)
}

func (d *driver) get(ctx context.Context) (*serving.ServingEndpointDetailed, error) {
	return getEndpoint(ctx, d.api, d.endpoint)
}

// getEndpoint reads an endpoint; a missing one wraps ErrEndpointMissing.
func getEndpoint(ctx context.Context, api EndpointReader, name string) (*serving.ServingEndpointDetailed, error) {
	ep, err := api.GetByName(ctx, name)
	if errors.Is(err, apierr.ErrResourceDoesNotExist) || errors.Is(err, apierr.ErrNotFound) {
		return nil, fmt.Errorf("endpoint %s: %w", name, ErrEndpointMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("read endpoint %s: %w", name, err)
	}
	return ep, nil
}

// settle reads the endpoint and, when an update is in flight (another
// deploy's, or this one's before a crash), waits for it to end: the service
// takes one update at a time. A failed update is not an error here: the
// previous config is what serves.
func (d *driver) settle(ctx context.Context) (*serving.ServingEndpointDetailed, error) {
	ep, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	if ep.State == nil || ep.State.ConfigUpdate != serving.EndpointStateConfigUpdateInProgress {
		return ep, nil
	}
	d.printf("   %s is updating; waiting for that update to end\n", d.endpoint)
	var last *serving.ServingEndpointDetailed
	_, err = d.api.WaitGetServingEndpointNotUpdating(ctx, d.endpoint, d.o.UpdateTimeout, func(e *serving.ServingEndpointDetailed) { last = e })
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil && (last == nil || last.State == nil || last.State.ConfigUpdate == serving.EndpointStateConfigUpdateInProgress) {
		return nil, fmt.Errorf("endpoint %s: waiting for the update in progress: %w", d.endpoint, err)
	}
	return d.get(ctx)
}

// apply sends a config, waits for NOT_UPDATING with the SDK's waiter and
// then for READY, and checks that the endpoint serves what was asked.
func (d *driver) apply(ctx context.Context, cfg serving.EndpointCoreConfigInput) (*serving.ServingEndpointDetailed, error) {
	cfg = forcesend.EndpointConfig(cfg)
	cfg.Name = d.endpoint
	if d.o.OnUpdate != nil {
		d.o.OnUpdate(cfg)
	}
	d.updates++
	wait, err := d.api.UpdateConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UpdateFailedError{Endpoint: d.endpoint, Cause: err}
	}
	var last *serving.ServingEndpointDetailed
	ep, err := wait.OnProgress(func(e *serving.ServingEndpointDetailed) { last = e }).GetWithTimeout(d.o.UpdateTimeout)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		if last != nil && last.State != nil && (last.State.ConfigUpdate == serving.EndpointStateConfigUpdateUpdateFailed || last.State.ConfigUpdate == serving.EndpointStateConfigUpdateUpdateCanceled) {
			return nil, NewUpdateFailedError(ctx, d.api, last, err)
		}
		return nil, fmt.Errorf("endpoint %s: waiting for the config update: %w", d.endpoint, err)
	}
	if !ready(ep) {
		if ep, err = d.waitReady(ctx); err != nil {
			return nil, err
		}
	}
	if !matches(ep, cfg) {
		// Someone else's update landed in between: do not build on it.
		return ep, fmt.Errorf("endpoint %s serves %s after the update, not the config sent", d.endpoint, DescribeTraffic(ep))
	}
	return ep, nil
}

// BuildLogger reads a served entity's build logs (w.ServingEndpoints fits).
type BuildLogger interface {
	BuildLogsByNameAndServedModelName(ctx context.Context, name, servedModelName string) (*serving.BuildLogsResponse, error)
}

// NewUpdateFailedError builds the error of an update that ended in ep's
// state (UPDATE_FAILED, UPDATE_CANCELED) with the build logs' tail of the
// entity that failed. The deploy stages use it too, so both say the same.
func NewUpdateFailedError(ctx context.Context, api BuildLogger, ep *serving.ServingEndpointDetailed, cause error) *UpdateFailedError {
	e := &UpdateFailedError{Endpoint: ep.Name, Cause: cause}
	if ep.State != nil {
		e.State = string(ep.State.ConfigUpdate)
	}
	if ep.PendingConfig == nil {
		return e
	}
	for _, ent := range ep.PendingConfig.ServedEntities {
		if ent.State == nil || ent.State.Deployment != serving.ServedModelStateDeploymentDeploymentFailed {
			continue
		}
		e.Served = ent.Name
		logs, err := api.BuildLogsByNameAndServedModelName(ctx, ep.Name, ent.Name)
		if err != nil {
			e.Logs = fmt.Sprintf("(build logs unavailable: %v)", err)
		} else {
			e.Logs = tail(logs.Logs, BuildLogLines)
		}
		break
	}
	return e
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady polls until the endpoint is READY, backing off like the SDK's
// waiters (1s more per attempt, at most 10s), through the clock.
func (d *driver) waitReady(ctx context.Context) (*serving.ServingEndpointDetailed, error) {
	start := d.o.Clock.Now()
	for attempt := 1; ; attempt++ {
		ep, err := d.get(ctx)
		if err != nil {
			return nil, err
		}
		if ready(ep) {
			return ep, nil
		}
		if d.o.Clock.Now().Sub(start) > d.o.UpdateTimeout {
			return nil, fmt.Errorf("endpoint %s: %w after %s (%s)", d.endpoint, errNotReady, d.o.UpdateTimeout, stateText(ep))
		}
		if err := d.o.Clock.Sleep(ctx, min(time.Duration(attempt)*time.Second, 10*time.Second)); err != nil {
			return nil, err
		}
	}
}

// restore applies a config that puts a known-good version back, retrying
// refused and failed updates: it is the step that must not give up early.
// A config the endpoint already serves is not sent again.
func (d *driver) restore(ctx context.Context, cfg serving.EndpointCoreConfigInput) (*serving.ServingEndpointDetailed, error) {
	var errs []error
	pause := d.o.Backoff
	for attempt := 1; attempt <= d.o.RestoreAttempts; attempt++ {
		ep, err := d.settle(ctx)
		if err == nil && matches(ep, cfg) && ready(ep) {
			return ep, nil
		}
		if err == nil {
			ep, err = d.apply(ctx, cfg)
			if err == nil {
				return ep, nil
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("attempt %d: %w", attempt, err))
		if attempt == d.o.RestoreAttempts || permanent(err) {
			break
		}
		d.printf("   restoring %s failed (attempt %d of %d), retrying in %s: %v\n", d.endpoint, attempt, d.o.RestoreAttempts, pause, err)
		if err := d.o.Clock.Sleep(ctx, pause); err != nil {
			return nil, err
		}
		pause *= 2
	}
	return nil, errors.Join(errs...)
}

// permanent reports a refusal that repeating cannot change: the request
// itself is wrong (bad parameter, missing model version, no permission).
func permanent(err error) bool {
	var api *apierr.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.StatusCode {
	case 400, 401, 403, 404:
		return true
	}
	return false
}
