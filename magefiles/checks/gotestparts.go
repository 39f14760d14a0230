package checks

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
)

// partRecord is what a package of a per-package group keeps when it
// passes: enough to report it again without running it.
type partRecord struct {
	Package string `json:"package"`
	Status  string `json:"status"` // pass, or skip (no test files)
	Passed  int    `json:"passed"`
	Skipped int    `json:"skipped"`
	// Profile holds the package's coverage profile blocks.
	Profile []string `json:"profile,omitempty"`
}

// partRun is one run of a per-package group: the packages whose records
// still hold, and the keys of those that run.
type partRun struct {
	t      *pipeline.T
	kept   map[string]partRecord // by package directory
	keys   map[string]string     // package directory -> key, for those that run
	dirs   []string
	module string
}

// runParts tests the group's packages whose key changed since they last
// passed and reports all of them: the group's summary, findings and
// coverage profile cover the packages that did not run from their records.
func (p *goTestPlan) runParts(ctx context.Context, t *pipeline.T, cfg Config, g goTestGroup) error {
	version, err := goVersion(ctx)
	if err != nil {
		return err
	}
	pr := &partRun{t: t, kept: map[string]partRecord{}, keys: map[string]string{}, module: modulePath(cfg.Root)}
	var run []string
	for _, d := range p.pkgs[g.Name] {
		in := pipeline.Inputs{Names: g.Names, Version: func(context.Context) (string, error) { return version, nil }}
		in.Files = append(append([]string{"go.mod", "go.sum", path.Join(d, "testdata", "**")}, goFilesOf(p.graph.closure([]string{d}))...), g.Files...)
		key, ok, err := t.PartKey(ctx, d, in)
		if err != nil {
			return err
		}
		if ok {
			if raw, hit := t.PartPassed(d, key); hit {
				var rec partRecord
				if json.Unmarshal(raw, &rec) == nil {
					pr.kept[d] = rec
					continue
				}
			}
			pr.keys[d] = key
		}
		run = append(run, "./"+d)
		pr.dirs = append(pr.dirs, d)
	}
	if len(run) == 0 {
		// Every package's record holds (the group's own key changed by an
		// input no package reads): nothing to run, the records report.
		profile, _, err := goTestOutputs(t, g.Name)
		if err != nil {
			return err
		}
		summary, err := pr.finish(&goTestResult{}, profile, pr.module)
		if err != nil {
			return err
		}
		t.Summary("%s", summary)
		return nil
	}
	t.Printf("testing %d of %d packages (the others unchanged since they passed): %s", len(run), len(p.pkgs[g.Name]), strings.Join(pr.dirs, ", "))
	return runGoTest(ctx, t, cfg, g, run, pr)
}

// finish records the packages that passed in res, writes the group's
// profile with the kept packages' blocks, and returns the summary over
// all packages.
func (pr *partRun) finish(res *goTestResult, profile, module string) (string, error) {
	blocks, mode, err := readProfile(profile)
	if err != nil {
		return "", err
	}
	for _, pkg := range res.Packages {
		dir := strings.TrimPrefix(strings.TrimPrefix(pkg.Name, module), "/")
		key, ok := pr.keys[dir]
		if !ok || (pkg.Status != "pass" && pkg.Status != "skip") {
			continue
		}
		rec := partRecord{Package: pkg.Name, Status: pkg.Status, Profile: blocks[pkg.Name]}
		for _, tc := range pkg.Tests {
			switch tc.Status {
			case "pass":
				rec.Passed++
			case "skip":
				rec.Skipped++
			}
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return "", err
		}
		if err := pr.t.RecordPart(dir, key, raw); err != nil {
			return "", err
		}
	}
	// The kept packages' blocks join this run's, so go-coverage sees the
	// whole group.
	var lines []string
	for _, rec := range pr.kept {
		lines = append(lines, rec.Profile...)
	}
	if len(lines) > 0 {
		if mode == "" {
			mode = "mode: atomic"
		}
		var all []string
		for _, b := range blocks {
			all = append(all, b...)
		}
		all = append(all, lines...)
		sort.Strings(all)
		if err := os.WriteFile(profile, []byte(mode+"\n"+strings.Join(all, "\n")+"\n"), 0o644); err != nil {
			return "", err
		}
	}
	return pr.summary(res), nil
}

// summary counts this run's packages and tests with the kept ones.
func (pr *partRun) summary(res *goTestResult) string {
	n := res.tally()
	for _, rec := range pr.kept {
		if rec.Status == "pass" {
			n.okPkgs++
		}
		n.pass += rec.Passed
		n.skip += rec.Skipped
	}
	if len(pr.kept) > 0 {
		n.note = fmt.Sprintf("(%d tested, %d unchanged since they passed)", len(pr.dirs), len(pr.kept))
	}
	return n.String()
}

// readProfile splits a coverage profile's blocks by the import path of
// their file's package; a missing profile is empty.
func readProfile(profile string) (map[string][]string, string, error) {
	f, err := os.Open(profile) // #nosec G304 -- the group's own profile under artifacts/
	if os.IsNotExist(err) {
		return map[string][]string{}, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	blocks := map[string][]string{}
	mode := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "mode:") {
			mode = line
			continue
		}
		file, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		blocks[path.Dir(file)] = append(blocks[path.Dir(file)], line)
	}
	return blocks, mode, sc.Err()
}
