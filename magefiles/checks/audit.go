package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/version"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/checks/osv"
	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// The dependency audit is two tasks:
//
//	govulncheck  known vulnerabilities reachable from the Go code
//	req-audit    advisories for the pins and ranges in requirements*.txt
//
// Both read local databases only. Where none is available the task is
// skipped with "offline, no vulnerability database" - never a silent
// pass - and in strict mode (CI_STRICT) that skip is a failure.
//
// Environment:
//
//	CI_VULN_DB      directory of OSV advisories for PyPI (osv-scanner's
//	                offline cache, an OSV export, or a flat dir of *.json);
//	                OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY is read too
//	CI_GOVULN_DB    a govulncheck database directory (index/, ID/) or a
//	                flat directory of Go OSV files; overrides the default
//	CI_OFFLINE=1    never download the Go vulnerability data
//
// By default the Go database is the pinned golang.org/x/vulndb module
// (toolchain.GoData), fetched like any module and indexed once into
// .cache/vulndb/<version>/.
//
// Accepted vulnerabilities live in .vuln-ignore.yml (see vulnignore.go):
// each entry has a reason and an expiry date, so nothing is accepted
// for ever.

// offlineReason is the skip reason when no database can be had.
const offlineReason = "offline, no vulnerability database"

// dbSkip returns the skip (or, in strict mode, the failure) for a
// missing database; the hint on what to set goes to the log.
func dbSkip(cfg Config, log func(string), hint string) error {
	if cfg.Strict {
		return fmt.Errorf("%s (strict mode requires one: %s)", offlineReason, hint)
	}
	log(offlineReason + ": " + hint)
	return pipeline.Skip("%s", offlineReason)
}

// goEnvPassThrough are Go settings a check forwards from its Config's
// environment to the go command (tests use them to go offline).
var goEnvPassThrough = []string{"GOPROXY", "GOMODCACHE", "GOFLAGS", "GONOSUMDB", "GOSUMDB", "GOPATH", "GOTOOLCHAIN"}

func goEnv(cfg Config) []string {
	var env []string
	for _, k := range goEnvPassThrough {
		if v := cfg.getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Govulncheck reports known vulnerabilities reachable from the Go code.
//
// Its key is narrower than every Go file when it can be: a vulnerable
// function runs only in a program that links its package, so while no
// linked package (module dependency or standard library, at the linked
// version) is covered by an advisory, no edit that leaves the linked
// packages alone can make one reachable, and the key is the module graph,
// the Go release, the database and the list of covered linked packages
// (empty). Planting a call to a vulnerable function, directly or through
// an interface whose dynamic type comes from a vulnerable package, links
// that package: the list changes and the check runs. Once a covered
// package is linked, no narrower key than every Go file is safe: any
// package can reach it without importing it, through a value handed over
// by the standard library (an io.Writer set with log.SetOutput, a
// transport in http.DefaultClient, a format registered with image), so
// the key is then every Go file.
func Govulncheck(cfg Config) pipeline.Task {
	tool := toolchain.Tool("govulncheck")
	return pipeline.Task{
		Name: "govulncheck",
		Inputs: pipeline.Inputs{
			Files: []string{"go.mod", "go.sum", vulnIgnoreFile},
			Extra: func(ctx context.Context) (string, []string, error) { return govulnReach(ctx, cfg) },
			Env:   []string{"CI_GOVULN_DB", "CI_OFFLINE"},
			Version: func(ctx context.Context) (string, error) {
				v, err := goToolVersion(tool)(ctx)
				if err != nil {
					return "", err
				}
				db, err := goVulnDBIdentity(cfg)
				if err != nil {
					return "", err
				}
				return v + "\n" + db, nil
			},
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			dbDir, err := goVulnDB(ctx, cfg, logTo(t))
			if err != nil {
				return err
			}
			ignores, err := loadVulnIgnore(cfg.Root)
			if err != nil {
				return err
			}
			bin, err := toolchain.EnsureGoTool(ctx, cfg.toolsDir(), tool, logTo(t))
			if err != nil {
				return err
			}
			var stdout, stderr bytes.Buffer
			runErr := toolchain.Run(ctx, toolchain.Cmd{
				Name: bin, Args: []string{"-db", fileURL(dbDir), "-format", "json", "./..."},
				Dir: cfg.Root, Env: goEnv(cfg), Stdout: &stdout, Stderr: &stderr,
			})
			if runErr != nil {
				// With -format json, findings never make the exit code
				// non-zero: this is a load or database error.
				return fmt.Errorf("govulncheck: %w: %s", runErr, toolchain.Tail(stderr.String(), 15))
			}
			dir := filepath.Join(t.Artifacts(), "audit")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "govulncheck.json"), stdout.Bytes(), 0o644); err != nil {
				return err
			}
			res, err := parseGovulncheck(&stdout, cfg.Root)
			if err != nil {
				return err
			}
			if err := scannedGoBuildsProject(res.GoVer, cfg.Root); err != nil {
				return err
			}
			t.Printf("standard library scanned: %s", res.GoVer)
			return reportGovulncheck(t, res, ignores, time.Now())
		},
	}
}

// govulnReach is the part of govulncheck's key that depends on the code:
// the Go release and the linked packages an advisory covers, and, when
// there is one, every Go file.
func govulnReach(ctx context.Context, cfg Config) (string, []string, error) {
	dir := strings.TrimPrefix(cfg.getenv("CI_GOVULN_DB"), "file://")
	if dir == "" {
		dir = filepath.Join(cfg.Root, ".cache", "vulndb", toolchain.GoData["vulndb"].Version)
	}
	if !osv.GoDBReady(dir) {
		return "", nil, fmt.Errorf("no vulnerability database at %s yet", dir)
	}
	linked, goVer, err := linkedGoPackages(ctx, cfg)
	if err != nil {
		return "", nil, err
	}
	covered, err := osv.GoLinkedAffected(dir, linked, goVer)
	if err != nil {
		return "", nil, err
	}
	desc := goVer + "\n" + strings.Join(covered, "\n")
	if len(covered) == 0 {
		return desc, nil, nil
	}
	return desc, []string{"**/*.go"}, nil
}

// linkedGoPackages lists the packages govulncheck ./... analyses (the
// module's packages without tests and what they import) and the Go
// release.
func linkedGoPackages(ctx context.Context, cfg Config) ([]osv.GoPackage, string, error) {
	var out, stderr bytes.Buffer
	err := toolchain.Run(ctx, toolchain.Cmd{
		Name: "go", Args: []string{"list", "-deps", "-f", "{{.ImportPath}}\t{{with .Module}}{{.Path}}\t{{.Version}}{{end}}", "./..."},
		Dir: cfg.Root, Env: goEnv(cfg), Stdout: &out, Stderr: &stderr,
	})
	if err != nil {
		return nil, "", fmt.Errorf("go list: %w: %s", err, toolchain.Tail(stderr.String(), 5))
	}
	var pkgs []osv.GoPackage
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Split(line, "\t")
		p := osv.GoPackage{ImportPath: f[0]}
		if len(f) == 3 {
			p.Module, p.Version = f[1], f[2]
		}
		pkgs = append(pkgs, p)
	}
	var ver bytes.Buffer
	if err := toolchain.Run(ctx, toolchain.Cmd{Name: "go", Args: []string{"env", "GOVERSION"}, Dir: cfg.Root, Env: goEnv(cfg), Stdout: &ver, Stderr: &stderr}); err != nil {
		return nil, "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return pkgs, strings.TrimSpace(ver.String()), nil
}

// scannedGoBuildsProject fails when govulncheck scanned the standard
// library of an older Go than the one go.mod builds the project with
// (its toolchain line, else its go line): the advisories of the Go that
// ships would go unseen.
func scannedGoBuildsProject(scanned, root string) error {
	want := goModToolchain(root)
	if want == "" {
		return nil
	}
	if scanned == "" {
		return fmt.Errorf("govulncheck did not say which Go it scanned; go.mod builds with %s", want)
	}
	if version.Compare(scanned, want) < 0 {
		return fmt.Errorf("govulncheck scanned the standard library of %s, but go.mod builds with %s: export GOTOOLCHAIN=%s and run again", scanned, want, want)
	}
	return nil
}

// goModToolchain is the Go go.mod asks for: the toolchain line, else the
// go line, as "go1.27.3"; "" when go.mod names neither.
func goModToolchain(root string) string {
	if tc := goModDirective(root, "toolchain"); tc != "" {
		return tc
	}
	if v := goModDirective(root, "go"); v != "" {
		return "go" + v
	}
	return ""
}

// goVulnDBIdentity names the database the next run would use, for the
// cache key, without downloading anything.
func goVulnDBIdentity(cfg Config) (string, error) {
	if dir := cfg.getenv("CI_GOVULN_DB"); dir != "" {
		b, err := os.ReadFile(filepath.Join(strings.TrimPrefix(dir, "file://"), "index", "db.json"))
		if err != nil {
			return "", err // flat or missing database: run uncached
		}
		return "db " + dir + " " + string(b), nil
	}
	return "vulndb " + toolchain.GoData["vulndb"].Version, nil
}

// goVulnDBMu serialises building the index within the process.
var goVulnDBMu sync.Mutex

// goVulnDB returns the database directory for govulncheck: CI_GOVULN_DB,
// or the pinned vulndb module indexed under .cache/vulndb/<version>.
func goVulnDB(ctx context.Context, cfg Config, log func(string)) (string, error) {
	if dir := cfg.getenv("CI_GOVULN_DB"); dir != "" {
		dir = strings.TrimPrefix(dir, "file://")
		if !isDir(dir) {
			return "", fmt.Errorf("CI_GOVULN_DB=%s: not a directory", dir)
		}
		return filepath.Abs(dir)
	}
	mod := toolchain.GoData["vulndb"]
	dst := filepath.Join(cfg.Root, ".cache", "vulndb", mod.Version)
	goVulnDBMu.Lock()
	defer goVulnDBMu.Unlock()
	if osv.GoDBReady(dst) {
		return dst, nil
	}
	if truthy(cfg.getenv("CI_OFFLINE")) {
		return "", dbSkip(cfg, log, "CI_OFFLINE is set; unset it to fetch "+mod.Spec()+", or set CI_GOVULN_DB")
	}
	log("fetching the Go vulnerability data " + mod.Spec())
	src, err := toolchain.DownloadModule(ctx, mod, goEnv(cfg))
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		log(err.Error())
		return "", dbSkip(cfg, log, "cannot fetch "+mod.Spec()+"; set CI_GOVULN_DB to a local database")
	}
	n, err := osv.BuildGoIndex(filepath.Join(src, "data", "osv"), dst, pseudoVersionTime(mod.Version))
	if err != nil {
		return "", fmt.Errorf("index Go vulnerability data: %w", err)
	}
	log(fmt.Sprintf("indexed %d Go advisories into %s", n, dst))
	return dst, nil
}

// pseudoVersionTime reads the commit time out of a pseudo-version
// (v0.0.0-20261105234957-e22db6528018); zero when there is none.
func pseudoVersionTime(v string) time.Time {
	parts := strings.Split(v, "-")
	if len(parts) < 3 {
		return time.Time{}
	}
	ts, err := time.Parse("20060102150405", parts[len(parts)-2])
	if err != nil {
		return time.Time{}
	}
	return ts
}

func fileURL(dir string) string {
	return "file://" + filepath.ToSlash(dir)
}

// govulnFinding is one vulnerability govulncheck found, folded over its
// traces.
type govulnFinding struct {
	ID       string
	Summary  string
	Aliases  []string
	Module   string
	Version  string // version in use
	Fixed    string // version that fixes it, "" if none
	Called   bool   // reached from the code (symbol level)
	Imported bool   // a vulnerable package is imported
	Sites    []pipeline.Finding
}

type govulnResult struct {
	Findings []*govulnFinding // sorted by ID
	GoVer    string
}

// govulncheck -format json writes a stream of messages; these are the
// parts read here.
type govulnMessage struct {
	Config *struct {
		GoVersion string `json:"go_version"`
	} `json:"config"`
	OSV *struct {
		ID      string   `json:"id"`
		Summary string   `json:"summary"`
		Aliases []string `json:"aliases"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
			Position *struct {
				Filename string `json:"filename"`
				Line     int    `json:"line"`
				Column   int    `json:"column"`
			} `json:"position"`
		} `json:"trace"`
	} `json:"finding"`
}

// parseGovulncheck folds govulncheck's JSON stream into one finding per
// vulnerability, keeping the call sites in this module.
func parseGovulncheck(r io.Reader, root string) (*govulnResult, error) {
	dec := json.NewDecoder(r)
	byID := map[string]*govulnFinding{}
	summaries := map[string]*govulnFinding{}
	res := &govulnResult{}
	for {
		var m govulnMessage
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("parse govulncheck output: %w", err)
		}
		switch {
		case m.Config != nil:
			res.GoVer = m.Config.GoVersion
		case m.OSV != nil:
			summaries[m.OSV.ID] = &govulnFinding{Summary: m.OSV.Summary, Aliases: m.OSV.Aliases}
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := byID[m.Finding.OSV]
			if f == nil {
				top := m.Finding.Trace[0]
				f = &govulnFinding{ID: m.Finding.OSV, Module: top.Module, Version: top.Version, Fixed: m.Finding.FixedVersion}
				byID[f.ID] = f
			}
			top := m.Finding.Trace[0]
			if top.Package != "" {
				f.Imported = true
			}
			if top.Function == "" {
				continue
			}
			f.Called = true
			// The call site is the last frame with a position inside
			// this module (positions there are relative to the root).
			for i := len(m.Finding.Trace) - 1; i >= 0; i-- {
				fr := m.Finding.Trace[i]
				if fr.Position == nil {
					continue
				}
				sym := fr.Function
				if fr.Receiver != "" {
					sym = fr.Receiver + "." + sym
				}
				site := pipeline.Finding{File: relURI(root, fr.Position.Filename), Line: fr.Position.Line, Col: fr.Position.Column, Rule: f.ID,
					Message: fmt.Sprintf("%s calls vulnerable %s.%s", sym, top.Package, top.Function)}
				if !containsSite(f.Sites, site) {
					f.Sites = append(f.Sites, site)
				}
				break
			}
		}
	}
	for id, f := range byID {
		if s := summaries[id]; s != nil {
			f.Summary, f.Aliases = s.Summary, s.Aliases
		}
		res.Findings = append(res.Findings, f)
	}
	sort.Slice(res.Findings, func(i, j int) bool { return res.Findings[i].ID < res.Findings[j].ID })
	return res, nil
}

func containsSite(sites []pipeline.Finding, s pipeline.Finding) bool {
	for _, x := range sites {
		if x.File == s.File && x.Line == s.Line {
			return true
		}
	}
	return false
}

// fixHint says what to change for a finding.
func (f *govulnFinding) fixHint() string {
	switch {
	case f.Fixed == "":
		return "no fixed version yet"
	case f.Module == "stdlib" || f.Module == "toolchain":
		return "fixed in go" + strings.TrimPrefix(f.Fixed, "v") + ": upgrade Go (go.mod toolchain line)"
	default:
		return fmt.Sprintf("fixed in %s@%s: go get %s@%s", f.Module, f.Fixed, f.Module, f.Fixed)
	}
}

// reportGovulncheck fails on vulnerabilities the code calls (govulncheck's
// own rule) that are not accepted in .vuln-ignore.yml; imported-only and
// required-only ones are listed as notices.
func reportGovulncheck(t *pipeline.T, res *govulnResult, ignores vulnIgnores, now time.Time) error {
	var failing, accepted, informational int
	var first *govulnFinding
	for _, f := range res.Findings {
		title := f.ID
		if f.Summary != "" {
			title += ": " + f.Summary
		}
		where := f.Module + "@" + f.Version
		if !f.Called {
			informational++
			t.Printf("%s (%s; not called) - %s", title, where, f.fixHint())
			continue
		}
		if ig, ok := ignores.lookup(f.ID, now); ok {
			accepted++
			t.Printf("%s (%s) accepted until %s: %s", title, where, ig.Until, ig.Reason)
			for _, s := range f.Sites {
				s.Severity, s.Message = "notice", s.Message+" (accepted: "+ig.Reason+")"
				t.Finding(s)
			}
			continue
		}
		failing++
		if first == nil {
			first = f
		}
		t.Printf("%s (%s) is called - %s", title, where, f.fixHint())
		for _, s := range f.Sites {
			t.Printf("  %s:%d: %s", s.File, s.Line, s.Message)
			s.Message += " - " + f.fixHint()
			t.Finding(s)
		}
	}
	for _, e := range ignores.expired(now) {
		t.Finding(pipeline.Finding{File: vulnIgnoreFile, Line: e.Line, Rule: e.ID, Severity: "warning",
			Message: fmt.Sprintf("acceptance of %s expired on %s", e.ID, e.Until)})
	}
	summary := fmt.Sprintf("%d called", failing)
	if accepted > 0 {
		summary += fmt.Sprintf(", %d accepted", accepted)
	}
	summary += fmt.Sprintf(", %d not called", informational)
	t.Summary("%s", summary)
	if failing > 0 {
		site := ""
		if len(first.Sites) > 0 {
			site = fmt.Sprintf(" from %s:%d", first.Sites[0].File, first.Sites[0].Line)
		}
		return fmt.Errorf("%d known vulnerabilities are called; first: %s in %s@%s%s - %s (accept one with a reason and an expiry in %s)",
			failing, first.ID, first.Module, first.Version, site, first.fixHint(), vulnIgnoreFile)
	}
	return nil
}

// reqFiles are the requirements files the audit reads.
func reqFiles(root string) []string {
	matches, _ := filepath.Glob(filepath.Join(root, "requirements*.txt"))
	sort.Strings(matches)
	return matches
}

// pypiDBDir is the configured PyPI advisory database, "" when none.
func pypiDBDir(cfg Config) string {
	if d := cfg.getenv("CI_VULN_DB"); d != "" {
		return d
	}
	return cfg.getenv("OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY")
}

// ReqAudit checks requirements*.txt against a local OSV database of PyPI advisories.
func ReqAudit(cfg Config) pipeline.Task {
	return pipeline.Task{
		Name: "req-audit",
		Inputs: pipeline.Inputs{
			Files: []string{"requirements*.txt", vulnIgnoreFile},
			Env:   []string{"CI_VULN_DB", "OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY"},
			// The database is an input too: its listing (names, sizes,
			// times) changes whenever its content does.
			Version: func(context.Context) (string, error) {
				dir := pypiDBDir(cfg)
				if dir == "" {
					return "", errors.New("no database: never cache the skip")
				}
				return dirFingerprint(dir)
			},
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			files := reqFiles(cfg.Root)
			if len(files) == 0 {
				return pipeline.Skip("no requirements*.txt")
			}
			dir := pypiDBDir(cfg)
			if dir == "" {
				return dbSkip(cfg, logTo(t), "set CI_VULN_DB to a directory of OSV advisories for PyPI")
			}
			db, err := osv.Load(dir, "PyPI")
			var none *osv.ErrNoDatabase
			if errors.As(err, &none) {
				return dbSkip(cfg, logTo(t), "CI_VULN_DB: "+err.Error())
			}
			if err != nil {
				return err
			}
			ignores, err := loadVulnIgnore(cfg.Root)
			if err != nil {
				return err
			}
			var reqs []osv.Requirement
			for _, f := range files {
				rel := relURI(cfg.Root, f)
				// #nosec G304 -- a requirements file found in the repository root
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				rs, errs := osv.ParseRequirements(bytes.NewReader(b), rel)
				for _, e := range errs {
					t.Printf("%v", e)
					t.Finding(pipeline.Finding{File: rel, Rule: "requirements", Message: e.Error()})
				}
				if len(errs) > 0 {
					return fmt.Errorf("%d unreadable requirement(s); first: %v", len(errs), errs[0])
				}
				reqs = append(reqs, rs...)
			}
			matches := db.Audit(reqs)
			return reportReqAudit(t, matches, len(reqs), db, ignores, time.Now())
		},
	}
}

func reportReqAudit(t *pipeline.T, matches []osv.Match, nreq int, db *osv.DB, ignores vulnIgnores, now time.Time) error {
	var failing []string
	accepted := 0
	for _, m := range matches {
		file, raw := m.Requirement.File, m.Requirement.Raw
		fix := "no fixed version"
		if len(m.Fixed) > 0 {
			fix = "fixed in " + strings.Join(m.Fixed, ", ")
		}
		var msg string
		if m.Pinned {
			msg = fmt.Sprintf("%s is affected by %s", raw, m.Entry.Title())
		} else {
			msg = fmt.Sprintf("%s admits versions affected by %s", raw, m.Entry.Title())
		}
		if m.Entry.Summary != "" {
			msg += ": " + m.Entry.Summary
		}
		msg += " (" + fix
		if !m.Pinned && len(m.Fixed) > 0 {
			msg += "; raise the lower bound"
		}
		msg += ")"
		f := pipeline.Finding{File: file, Line: m.Requirement.Line, Rule: m.Entry.ID, Message: msg}
		if ig, ok := ignores.lookup(m.Entry.ID, now); ok {
			accepted++
			f.Severity, f.Message = "notice", f.Message+" - accepted until "+ig.Until+": "+ig.Reason
			t.Finding(f)
			t.Printf("%s:%d: %s", f.File, f.Line, f.Message)
			continue
		}
		t.Finding(f)
		t.Printf("%s:%d: %s", f.File, f.Line, msg)
		failing = append(failing, fmt.Sprintf("%s:%d: %s", f.File, f.Line, msg))
	}
	t.Printf("%d requirement(s) checked against %d PyPI advisories in %s", nreq, db.Len(), db.Source)
	if len(failing) > 0 {
		t.Summary("%d vulnerable of %d requirements", len(failing), nreq)
		return fmt.Errorf("%d advisory match(es); first: %s", len(failing), failing[0])
	}
	if accepted > 0 {
		t.Summary("%d requirements, %d accepted advisories", nreq, accepted)
	} else {
		t.Summary("%d requirements, no known vulnerabilities", nreq)
	}
	return nil
}

// dirFingerprint summarises a directory tree by names, sizes and
// modification times: cheap, and it changes when the content does.
func dirFingerprint(dir string) (string, error) {
	var b strings.Builder
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if n++; n > 20000 {
			return errors.New("database too large to fingerprint")
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	return b.String(), err
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}
