package checks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// vulnIgnoreFile lists accepted vulnerabilities for both audits, in the
// spirit of osv-scanner's IgnoredVulns: every entry needs a reason and an
// expiry date, and an expired entry no longer hides anything.
//
//	ignore:
//	  - id: GO-2099-0001
//	    until: 2099-01-31
//	    reason: why the finding is safe here, and what removes it
const vulnIgnoreFile = ".vuln-ignore.yml"

type vulnIgnore struct {
	ID     string `yaml:"id"`
	Until  string `yaml:"until"`
	Reason string `yaml:"reason"`
	Line   int    `yaml:"-"`
	until  time.Time
}

type vulnIgnores []vulnIgnore

// lookup returns the unexpired acceptance of id.
func (v vulnIgnores) lookup(id string, now time.Time) (vulnIgnore, bool) {
	for _, e := range v {
		if e.ID == id && !now.After(e.until) {
			return e, true
		}
	}
	return vulnIgnore{}, false
}

func (v vulnIgnores) expired(now time.Time) []vulnIgnore {
	var out []vulnIgnore
	for _, e := range v {
		if now.After(e.until) {
			out = append(out, e)
		}
	}
	return out
}

// loadVulnIgnore reads .vuln-ignore.yml; a missing file accepts nothing,
// a malformed one is an error naming file:line.
func loadVulnIgnore(root string) (vulnIgnores, error) {
	// #nosec G304 -- .vuln-ignore.yml at the repository root
	b, err := os.ReadFile(filepath.Join(root, vulnIgnoreFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseVulnIgnore(b)
}

func parseVulnIgnore(b []byte) (vulnIgnores, error) {
	var doc struct {
		Ignore yaml.Node `yaml:"ignore"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", vulnIgnoreFile, err)
	}
	if doc.Ignore.Kind == 0 {
		return nil, nil
	}
	if doc.Ignore.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: ignore must be a list", vulnIgnoreFile, doc.Ignore.Line)
	}
	var out vulnIgnores
	for _, n := range doc.Ignore.Content {
		var e vulnIgnore
		if err := n.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", vulnIgnoreFile, n.Line, err)
		}
		e.Line = n.Line
		if e.ID == "" || e.Reason == "" || e.Until == "" {
			return nil, fmt.Errorf("%s:%d: every entry needs id, until (YYYY-MM-DD) and reason", vulnIgnoreFile, n.Line)
		}
		t, err := time.Parse("2006-01-02", e.Until)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: until %q: want YYYY-MM-DD", vulnIgnoreFile, n.Line, e.Until)
		}
		e.until = t.Add(24*time.Hour - time.Nanosecond) // through the end of that day
		out = append(out, e)
	}
	return out, nil
}
