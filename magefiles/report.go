//go:build mage

package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cd"
)

// Report writes the DORA measures of every environment (deployment frequency, lead time, change failure rate, time to restore) from the release records and git to artifacts/report/ as HTML, Markdown and JSON (-since=90d).
func Report(ctx context.Context, since *string) error {
	window := cd.DefaultReportWindow
	if since != nil && *since != "" {
		w, err := parseWindow(*since)
		if err != nil {
			return err
		}
		window = w
	}
	o, err := cdOptions(cd.EnvDev, nil)
	if err != nil {
		return err
	}
	_, _, err = cd.Report(ctx, o, window)
	return err
}

// parseWindow reads 90d, 12w or a Go duration such as 36h.
func parseWindow(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				return time.Duration(v) * unit, nil
			}
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("-since=%q: give days (90d), weeks (12w) or a duration (36h)", s)
}
