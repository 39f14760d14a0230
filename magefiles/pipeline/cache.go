package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/atomicfile"
)

// cacheEntry is what a pass leaves behind: the key of its inputs and the
// result line to show when it is reused.
type cacheEntry struct {
	Key      string `json:"key"`
	Summary  string `json:"summary"`
	Findings int    `json:"findings"`
	// Data is what a part of a task kept (T.RecordPart).
	Data json.RawMessage `json:"data,omitempty"`
}

type cache struct {
	dir   string
	files *fileIndex
}

// key hashes everything the task's result depends on. ok is false when the
// task cannot be cached (no input files, or a tool version is unknown).
func (c *cache) key(ctx context.Context, t Task, getenv func(string) string) (key string, ok bool, err error) {
	if len(t.Inputs.Files) == 0 {
		return "", false, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "task\x00%s\n", t.Name)
	for _, c := range t.Inputs.Config {
		fmt.Fprintf(h, "config\x00%s\n", c)
	}
	for _, e := range t.Inputs.Env {
		fmt.Fprintf(h, "env\x00%s=%s\n", e, getenv(e))
	}
	if t.Inputs.Version != nil {
		v, verr := t.Inputs.Version(ctx)
		if verr != nil {
			return "", false, nil //nolint:nilerr // unknown version: run uncached, do not fail
		}
		fmt.Fprintf(h, "version\x00%s\n", v)
	}
	patterns := t.Inputs.Files
	if t.Inputs.Extra != nil {
		desc, more, xerr := t.Inputs.Extra(ctx)
		if xerr != nil {
			return "", false, nil //nolint:nilerr // undecidable inputs: run uncached, do not fail
		}
		fmt.Fprintf(h, "extra\x00%s\n", desc)
		patterns = append(append([]string{}, patterns...), more...)
	}
	files, err := c.files.match(patterns)
	if err != nil {
		return "", false, err
	}
	for _, f := range files {
		sum, err := c.files.hash(f)
		if err != nil {
			return "", false, fmt.Errorf("hash %s: %w", f, err)
		}
		fmt.Fprintf(h, "file\x00%s\x00%s\n", f, sum)
	}
	if len(t.Inputs.Names) > 0 {
		names, err := c.files.match(t.Inputs.Names)
		if err != nil {
			return "", false, err
		}
		for _, f := range names {
			fmt.Fprintf(h, "name\x00%s\n", f)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), true, nil
}

func (c *cache) path(name string) string {
	safe := strings.NewReplacer("/", "_", ":", "_", " ", "_").Replace(name)
	return filepath.Join(c.dir, safe+".json")
}

func (c *cache) lookup(name, key string) (cacheEntry, bool) {
	b, err := os.ReadFile(c.path(name))
	if err != nil {
		return cacheEntry{}, false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || e.Key != key {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *cache) store(name string, e cacheEntry) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	// Replaced whole: concurrent runs of one checkout may store at once.
	return atomicfile.Write(c.path(name), b, 0o644)
}

// forget drops a task's entry so a failure is never followed by a stale hit.
func (c *cache) forget(name string) {
	_ = os.Remove(c.path(name))
}
