package workspace

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/catalog"
)

// grantSecurable is the securable type the Unity Catalog grants API takes
// for a registered model: models are function-like securables there
// (the SDK's SecurableType has no model member; the terraform provider's
// databricks_grants maps "model" to "function").
const grantSecurable = "function"

// registeredModels creates the bundle's Unity Catalog models that do not
// exist, brings their comment up to date and adds the declared grants. It
// never deletes a model or revokes a grant: that is a decision for a person.
func (d *deployRun) registeredModels(ctx context.Context) error {
	for _, key := range sortedKeys(d.req.Resources.RegisteredModels) {
		m := d.req.Resources.RegisteredModels[key]
		full := m.FullName()
		got, err := d.c.W.RegisteredModels.Get(ctx, catalog.GetRegisteredModelRequest{FullName: full})
		if err != nil && !notExist(err) {
			return fmt.Errorf("registered model %s: %w", full, err)
		}
		var changed []string
		action := ActionUnchanged
		if err != nil {
			action = ActionCreate
			if d.apply {
				if _, err := d.c.W.RegisteredModels.Create(ctx, *m.Request); err != nil && !exists(err) {
					return fmt.Errorf("create registered model %s: %w", full, err)
				}
			}
		} else if m.Request.Comment != "" && m.Request.Comment != got.Comment {
			changed = append(changed, "comment")
			if d.apply {
				if _, err := d.c.W.RegisteredModels.Update(ctx, catalog.UpdateRegisteredModelRequest{FullName: full, Comment: m.Request.Comment}); err != nil {
					return fmt.Errorf("update registered model %s: %w", full, err)
				}
			}
		}
		grants, err := d.missingGrants(ctx, full, m.Grants, action == ActionCreate)
		if err != nil {
			return err
		}
		if len(grants) > 0 {
			changed = append(changed, "grants "+describeGrants(grants))
			if d.apply {
				if _, err := d.c.W.Grants.Update(ctx, catalog.UpdatePermissions{SecurableType: grantSecurable, FullName: full, Changes: grants}); err != nil {
					return fmt.Errorf("grant on registered model %s: %w", full, err)
				}
			}
		}
		if action == ActionUnchanged && len(changed) > 0 {
			action = ActionUpdate
		}
		if d.apply {
			d.next.RegisteredModels[key] = full
		}
		d.add(Change{Kind: KindUCModel, Key: key, Name: full, Action: action, Detail: strings.Join(changed, ", ")})
	}
	return nil
}

// missingGrants are the declared privileges a model's grants lack (all of
// them for a model about to be created).
func (d *deployRun) missingGrants(ctx context.Context, full string, want []Grant, creating bool) ([]catalog.PermissionsChange, error) {
	if len(want) == 0 {
		return nil, nil
	}
	have := map[string]map[string]bool{}
	if !creating {
		resp, err := d.c.W.Grants.Get(ctx, catalog.GetGrantRequest{SecurableType: grantSecurable, FullName: full})
		if err != nil {
			return nil, fmt.Errorf("grants on registered model %s: %w", full, err)
		}
		for _, a := range resp.PrivilegeAssignments {
			have[a.Principal] = map[string]bool{}
			for _, p := range a.Privileges {
				have[a.Principal][string(p)] = true
			}
		}
	}
	var out []catalog.PermissionsChange
	for _, g := range want {
		var add []catalog.Privilege
		for _, p := range g.Privileges {
			if !have[g.Principal][p] {
				add = append(add, catalog.Privilege(p))
			}
		}
		if len(add) > 0 {
			out = append(out, catalog.PermissionsChange{Principal: g.Principal, Add: add})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out, nil
}

func describeGrants(cs []catalog.PermissionsChange) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		ps := make([]string, len(c.Add))
		for i, p := range c.Add {
			ps[i] = string(p)
		}
		parts = append(parts, c.Principal+": "+strings.Join(ps, " "))
	}
	return strings.Join(parts, "; ")
}
