package rollout

import (
	"context"
	"errors"
	"fmt"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/serving"
)

// Change is one endpoint change: what it served before and after.
type Change struct {
	Endpoint      string
	Before, After *serving.ServingEndpointDetailed
	// Updated is false when the endpoint already served the target, so
	// nothing was sent.
	Updated bool
}

// RollbackTo makes the endpoint serve target with all the traffic and
// waits until it is READY; every other entity is removed. The name the
// endpoint already serves that version under is reused (a traffic-only
// update, no redeploy), else target.Name, else ServedEntityName. A failed
// update is retried (Options.RestoreAttempts); an update the service
// refuses because the model version does not exist changes nothing and
// says so. The caller runs the smoke tests, records and notifies.
func RollbackTo(ctx context.Context, api Endpoints, endpoint string, target Entity, o Options) (*Change, error) {
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	d := &driver{api: api, endpoint: endpoint, o: o.withDefaults()}
	ep, err := d.settle(ctx)
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w", endpoint, err)
	}
	target = resolveTarget(ep, target)
	return change(ctx, d, ep, singleConfig(endpoint, target), fmt.Sprintf("%s v%s at 100%%", target.EntityName, target.EntityVersion))
}

// Preview is what a rollback would change, for the confirmation prompt.
type Preview struct {
	Before *serving.ServingEndpointDetailed
	Config serving.EndpointCoreConfigInput
	// Noop is set when the endpoint already serves the target alone.
	Noop bool
	// Text is "agent-prod-3 100% -> agent-prod v2 (agent-prod-2) at 100%".
	Text string
}

// PreviewRollback reads the endpoint and says what RollbackTo would do,
// changing nothing.
func PreviewRollback(ctx context.Context, api EndpointReader, endpoint string, target Entity) (*Preview, error) {
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	ep, err := getEndpoint(ctx, api, endpoint)
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w", endpoint, err)
	}
	target = resolveTarget(ep, target)
	p := &Preview{Before: ep, Config: singleConfig(endpoint, target)}
	p.Noop = matches(ep, p.Config) && ready(ep)
	if p.Noop {
		p.Text = fmt.Sprintf("%s already serves %s at 100%%: nothing to change", endpoint, describe(target))
	} else {
		p.Text = fmt.Sprintf("%s -> %s at 100%%", DescribeTraffic(ep), describe(target))
	}
	return p, nil
}

func checkTarget(target Entity) error {
	if target.EntityName == "" || target.EntityVersion == "" {
		return errors.New("rollback: the target needs entity_name and entity_version")
	}
	return nil
}

// resolveTarget names the target: the name it is live under, if any (a
// traffic-only update, no redeploy), else its own Name, else
// ServedEntityName.
func resolveTarget(ep *serving.ServingEndpointDetailed, target Entity) Entity {
	if target.Name == "" {
		target.Name = ServedEntityName(target.EntityName, target.EntityVersion)
	}
	if ep != nil && ep.Config != nil {
		for _, o := range ep.Config.ServedEntities {
			if in := InputOf(o); sameVersion(in, target) {
				target.Name = in.Name
			}
		}
	}
	return target
}

// RestoreConfig puts the endpoint back to the config a backup holds: its
// served entities and traffic, exactly. Tags are not changed.
func RestoreConfig(ctx context.Context, api Endpoints, b *Backup, o Options) (*Change, error) {
	cfg, err := b.Config()
	if err != nil {
		return nil, err
	}
	d := &driver{api: api, endpoint: b.Endpoint.Name, o: o.withDefaults()}
	ep, err := d.settle(ctx)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", b.Endpoint.Name, err)
	}
	return change(ctx, d, ep, *cfg, "the backup of "+b.Taken.Format("2006-01-02 15:04:05 UTC"))
}

func change(ctx context.Context, d *driver, before *serving.ServingEndpointDetailed, cfg serving.EndpointCoreConfigInput, what string) (*Change, error) {
	c := &Change{Endpoint: d.endpoint, Before: before}
	if matches(before, cfg) && ready(before) {
		d.printf("   %s already serves %s: nothing to change\n", d.endpoint, DescribeTraffic(before))
		c.After = before
		return c, nil
	}
	d.printf("   %s: %s -> %s\n", d.endpoint, DescribeTraffic(before), what)
	after, err := d.restore(ctx, cfg)
	if err != nil {
		if missingVersion(err) {
			return nil, fmt.Errorf("%s on %s: the model version does not exist (%w); nothing was changed", what, d.endpoint, err)
		}
		return nil, fmt.Errorf("%s on %s: %w", what, d.endpoint, err)
	}
	c.After, c.Updated = after, true
	d.printf("   %s READY: %s\n", d.endpoint, DescribeTraffic(after))
	return c, nil
}

// missingVersion reports an update refused because it names a model
// version the registry does not have.
func missingVersion(err error) bool {
	return errors.Is(err, apierr.ErrResourceDoesNotExist) || errors.Is(err, apierr.ErrNotFound)
}
