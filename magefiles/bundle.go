//go:build mage

package main

import (
	"fmt"
	"os"

	"github.com/fatih/color"
	"github.com/magefile/mage/mg"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle"
	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/diag"
	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// Bundle holds the Databricks Asset Bundle targets: offline validation and the resolved configuration.
type Bundle mg.Namespace

// Validate checks databricks.yml and resources/*.yml for a target (dev, staging, prod, default or all) with file:line diagnostics (flags: -strict -json -vars=a=1,b=2 -user=EMAIL).
func (Bundle) Validate(target string, strict, json *bool, vars, user *string) error {
	root, opts, err := bundleOptions(target, vars, user)
	if err != nil {
		return err
	}
	opts.Strict = isSet(strict)
	results := bundle.Check(root, opts)
	if isSet(json) {
		err = bundle.WriteJSON(os.Stdout, results)
	} else {
		err = bundle.WriteText(os.Stdout, results, diag.TextOptions{Color: !color.NoColor})
	}
	if err != nil {
		return err
	}
	return bundle.Err(results)
}

// Config prints a target's fully resolved configuration as JSON, like `databricks bundle validate -o json` (flags: -vars=a=1,b=2 -user=EMAIL).
func (Bundle) Config(target string, vars, user *string) error {
	root, opts, err := bundleOptions(target, vars, user)
	if err != nil {
		return err
	}
	if target == bundle.AllTargets {
		return fmt.Errorf("bundle:config prints one target; name it (for example bundle:config prod)")
	}
	results := bundle.Check(root, opts)
	r := results[0]
	if r.Bundle == nil {
		_ = r.Diagnostics.WriteText(os.Stderr, diag.TextOptions{Color: !color.NoColor})
		return bundle.Err(results)
	}
	out, err := r.Bundle.Config()
	if err != nil {
		return fmt.Errorf("bundle config %s: %w", r.Target, err)
	}
	_, err = os.Stdout.Write(out)
	return err
}

func bundleOptions(target string, vars, user *string) (string, bundle.CheckOptions, error) {
	root, err := project.Root()
	if err != nil {
		return "", bundle.CheckOptions{}, err
	}
	opts := bundle.CheckOptions{Target: target, Load: bundle.LoadOptions{LookupEnv: os.LookupEnv}}
	if vars != nil {
		if opts.Load.Vars, err = bundle.ParseVarList(*vars); err != nil {
			return "", opts, err
		}
	}
	if user != nil {
		opts.Load.CurrentUser = *user
	}
	return root, opts, nil
}

func isSet(b *bool) bool { return b != nil && *b }
