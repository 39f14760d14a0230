package checks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// goTestInputs are what the Go tests read: the Go code, their fixtures,
// and the repository files Go code under test loads (the bundle, the
// integration cases). The Python payload is not among them: pytest tests
// it, and a Go test that needs Python files uses a fixture under testdata.
// A Go test that starts reading another repository file must add it here.
var goTestInputs = []string{"**/*.go", "go.mod", "go.sum", "**/testdata/**",
	"databricks.yml", "resources/**", "tests/integration/**", "tests/e2e/**"}

// GoTest runs `go test -race -cover ./...` and writes JUnit XML and a coverage profile.
func GoTest(cfg Config) pipeline.Task {
	return pipeline.Task{
		Name: "go-test",
		Inputs: pipeline.Inputs{
			Files:   goTestInputs,
			Version: goVersion,
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			covDir := filepath.Join(t.Artifacts(), "coverage")
			testsDir := filepath.Join(t.Artifacts(), "tests")
			for _, d := range []string{covDir, testsDir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			profile := filepath.Join(covDir, "go.out")
			var raw bytes.Buffer
			stream := newGoTestStream(t.Out())
			var stderr bytes.Buffer
			runErr := toolchain.Run(ctx, toolchain.Cmd{
				Name: "go",
				// -vet=off: go vet is a check of its own (go-vet), run once.
				Args:   []string{"test", "-race", "-cover", "-coverprofile=" + profile, "-json", "-count=1", "-vet=off", "./..."},
				Dir:    cfg.Root,
				Stdout: io.MultiWriter(&raw, stream),
				Stderr: io.MultiWriter(&stderr, t.Out()),
			})
			stream.Flush()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res, err := parseGoTestJSON(bytes.NewReader(raw.Bytes()))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(testsDir, "go-test.json"), raw.Bytes(), 0o644); err != nil {
				return err
			}
			if err := writeJUnit(filepath.Join(testsDir, "go-test.xml"), res.junit()); err != nil {
				return err
			}
			if _, err := os.Stat(profile); err == nil {
				// The HTML view is a convenience; a failure here is not the tests'.
				if herr := toolchain.Run(ctx, toolchain.Cmd{Name: "go", Args: []string{"tool", "cover", "-html=" + profile, "-o", filepath.Join(covDir, "go.html")}, Dir: cfg.Root}); herr != nil {
					t.Printf("warning: go tool cover -html: %v", herr)
				}
			}
			module := modulePath(cfg.Root)
			for _, f := range res.findings(module) {
				t.Finding(f)
			}
			t.Summary("%s", res.summary())
			if runErr != nil {
				if failed := res.failedNames(); len(failed) > 0 {
					return fmt.Errorf("go test: %s failed (see artifacts/tests/go-test.xml)", strings.Join(failed, ", "))
				}
				return fmt.Errorf("go test: %w: %s", runErr, tail(stderr.String(), 10))
			}
			return nil
		},
	}
}

// goTestEvent is one line of `go test -json` (test2json).
type goTestEvent struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string // build-output / build-fail
}

type goTestCase struct {
	Name    string
	Status  string // pass, fail, skip
	Elapsed float64
	Output  strings.Builder
}

type goTestPackage struct {
	Name     string
	Status   string // pass, fail, skip ("no test files")
	Elapsed  float64
	Coverage string // "86.5%"
	Tests    []*goTestCase
	byName   map[string]*goTestCase
	Output   strings.Builder // package-level output (panics, TestMain, build errors)
}

type goTestResult struct {
	Packages []*goTestPackage
}

var coverageLine = regexp.MustCompile(`coverage: ([0-9.]+%) of statements`)

// parseGoTestJSON folds test2json events into packages and tests.
func parseGoTestJSON(r io.Reader) (*goTestResult, error) {
	byPkg := map[string]*goTestPackage{}
	var order []string
	pkg := func(name string) *goTestPackage {
		p := byPkg[name]
		if p == nil {
			p = &goTestPackage{Name: name, byName: map[string]*goTestCase{}}
			byPkg[name] = p
			order = append(order, name)
		}
		return p
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 || line[0] != '{' {
			continue // not an event (go vet or build noise on stdout)
		}
		var ev goTestEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("parse go test -json: %w", err)
		}
		switch ev.Action {
		case "build-output":
			p := pkg(strings.Fields(ev.ImportPath + " ")[0])
			p.Output.WriteString(ev.Output)
			continue
		case "build-fail":
			p := pkg(strings.Fields(ev.ImportPath + " ")[0])
			p.Status = "fail"
			continue
		}
		if ev.Package == "" {
			continue
		}
		p := pkg(ev.Package)
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				p.Output.WriteString(ev.Output)
				if m := coverageLine.FindStringSubmatch(ev.Output); m != nil {
					p.Coverage = m[1]
				}
			case "pass", "fail", "skip":
				p.Status, p.Elapsed = ev.Action, ev.Elapsed
			}
			continue
		}
		tc := p.byName[ev.Test]
		if tc == nil {
			tc = &goTestCase{Name: ev.Test}
			p.byName[ev.Test] = tc
			p.Tests = append(p.Tests, tc)
		}
		switch ev.Action {
		case "output":
			tc.Output.WriteString(ev.Output)
		case "pass", "fail", "skip":
			tc.Status, tc.Elapsed = ev.Action, ev.Elapsed
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read go test -json: %w", err)
	}
	res := &goTestResult{}
	for _, n := range order {
		p := byPkg[n]
		if p.Status == "" {
			// No final event: the test binary died (timeout, crash).
			p.Status = "fail"
		}
		res.Packages = append(res.Packages, p)
	}
	return res, nil
}

func (r *goTestResult) counts() (pass, fail, skip int) {
	for _, p := range r.Packages {
		for _, tc := range p.Tests {
			switch tc.Status {
			case "pass":
				pass++
			case "fail":
				fail++
			case "skip":
				skip++
			}
		}
	}
	return pass, fail, skip
}

func (r *goTestResult) summary() string {
	okPkgs, failPkgs := 0, 0
	for _, p := range r.Packages {
		switch p.Status {
		case "pass":
			okPkgs++
		case "fail":
			failPkgs++
		}
	}
	pass, fail, skip := r.counts()
	s := fmt.Sprintf("%d packages ok", okPkgs)
	if failPkgs > 0 {
		s += fmt.Sprintf(", %d failed", failPkgs)
	}
	s += fmt.Sprintf("; %d tests passed", pass)
	if fail > 0 {
		s += fmt.Sprintf(", %d failed", fail)
	}
	if skip > 0 {
		s += fmt.Sprintf(", %d skipped", skip)
	}
	return s
}

// failedNames lists failed tests (package-qualified leaf names) or, for a
// package that failed without a failing test, the package.
func (r *goTestResult) failedNames() []string {
	var out []string
	for _, p := range r.Packages {
		if p.Status != "fail" {
			continue
		}
		n := 0
		for _, tc := range p.Tests {
			if tc.Status == "fail" && !hasFailedSubtest(p, tc.Name) {
				out = append(out, path.Base(p.Name)+"."+tc.Name)
				n++
			}
		}
		if n == 0 {
			out = append(out, p.Name+" (build or package failure)")
		}
	}
	return out
}

func hasFailedSubtest(p *goTestPackage, name string) bool {
	for _, tc := range p.Tests {
		if tc.Status == "fail" && strings.HasPrefix(tc.Name, name+"/") {
			return true
		}
	}
	return false
}

var (
	goTestFailAt  = regexp.MustCompile(`(?m)^\s+([\w./-]+\.go):(\d+): (.*)$`)
	goBuildFailAt = regexp.MustCompile(`(?m)^(?:\./)?([\w./-]+\.go):(\d+):(\d+): (.*)$`)
)

// findings locates failures: `file_test.go:12: message` lines of failed
// tests, and compiler errors, as repository-relative paths.
func (r *goTestResult) findings(module string) []pipeline.Finding {
	var fs []pipeline.Finding
	for _, p := range r.Packages {
		if p.Status != "fail" {
			continue
		}
		dir := strings.TrimPrefix(strings.TrimPrefix(p.Name, module), "/")
		for _, tc := range p.Tests {
			if tc.Status != "fail" {
				continue
			}
			for _, m := range goTestFailAt.FindAllStringSubmatch(tc.Output.String(), -1) {
				fs = append(fs, pipeline.Finding{File: path.Join(dir, m[1]), Line: atoiSafe(m[2]), Rule: tc.Name,
					Message: strings.TrimSpace(m[3])})
			}
		}
		for _, m := range goBuildFailAt.FindAllStringSubmatch(p.Output.String(), -1) {
			file := m[1]
			if !strings.Contains(file, "/") {
				file = path.Join(dir, file)
			}
			fs = append(fs, pipeline.Finding{File: file, Line: atoiSafe(m[2]), Col: atoiSafe(m[3]), Rule: "build", Message: m[4]})
		}
	}
	return fs
}

func atoiSafe(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// junit converts the result to JUnit XML suites, one per package.
func (r *goTestResult) junit() junitSuites {
	var out junitSuites
	for _, p := range r.Packages {
		s := junitSuite{Name: p.Name, Time: p.Elapsed}
		if p.Coverage != "" {
			s.Properties = []junitProperty{{Name: "coverage", Value: p.Coverage}}
		}
		tests := append([]*goTestCase(nil), p.Tests...)
		sort.SliceStable(tests, func(i, j int) bool { return tests[i].Name < tests[j].Name })
		for _, tc := range tests {
			c := junitCase{ClassName: p.Name, Name: tc.Name, Time: tc.Elapsed}
			switch tc.Status {
			case "fail":
				c.Failure = &junitMessage{Message: firstFailureLine(tc.Output.String()), Body: tc.Output.String()}
				s.Failures++
			case "skip":
				c.Skipped = &junitMessage{Message: "skipped", Body: tc.Output.String()}
				s.Skipped++
			}
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		if p.Status == "fail" && s.Failures == 0 {
			// A package that failed without a failing test (build error,
			// panic in init, timeout) still shows up as a failure.
			s.Tests++
			s.Errors++
			s.Cases = append(s.Cases, junitCase{ClassName: p.Name, Name: "(package)",
				Error: &junitMessage{Message: "package failed", Body: p.Output.String()}})
		}
		out.Suites = append(out.Suites, s)
	}
	return out
}

func firstFailureLine(out string) string {
	if m := goTestFailAt.FindStringSubmatch(out); m != nil {
		return m[1] + ":" + m[2] + ": " + strings.TrimSpace(m[3])
	}
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- ") {
			return l
		}
	}
	return "failed"
}

// goTestStream turns the -json event stream into a readable log as it
// arrives: one line per package, and the output of failed tests.
type goTestStream struct {
	mu      sync.Mutex
	out     io.Writer
	partial []byte
	tests   map[string]*strings.Builder // package/test -> output so far
}

func newGoTestStream(out io.Writer) *goTestStream {
	return &goTestStream{out: out, tests: map[string]*strings.Builder{}}
}

func (s *goTestStream) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(s.partial[:i])
		s.partial = s.partial[i+1:]
	}
	return len(b), nil
}

// Flush handles a last line without a newline.
func (s *goTestStream) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.line(s.partial)
		s.partial = nil
	}
}

func (s *goTestStream) line(b []byte) {
	var ev goTestEvent
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &ev) != nil {
		if len(bytes.TrimSpace(b)) > 0 {
			fmt.Fprintf(s.out, "%s\n", b)
		}
		return
	}
	key := ev.Package + "\x00" + ev.Test
	switch {
	case ev.Action == "build-output":
		fmt.Fprint(s.out, ev.Output)
	case ev.Test != "" && ev.Action == "output":
		sb := s.tests[key]
		if sb == nil {
			sb = &strings.Builder{}
			s.tests[key] = sb
		}
		sb.WriteString(ev.Output)
	case ev.Test != "" && ev.Action == "fail":
		if sb := s.tests[key]; sb != nil {
			fmt.Fprint(s.out, sb.String())
		}
		delete(s.tests, key)
	case ev.Test != "" && (ev.Action == "pass" || ev.Action == "skip"):
		delete(s.tests, key)
	case ev.Test == "" && ev.Action == "output":
		// Package lines: "ok ...", "FAIL ...", coverage, panics.
		if o := strings.TrimSpace(ev.Output); o != "" && o != "PASS" && !strings.HasPrefix(o, "=== ") {
			fmt.Fprint(s.out, ev.Output)
		}
	}
}

// modulePath reads the module path from go.mod.
func modulePath(root string) string {
	return strings.Trim(goModDirective(root, "module"), `"`)
}

// goModDirective is the argument of a one-line directive of go.mod
// (module, go, toolchain); "" when go.mod or the directive is missing.
func goModDirective(root, name string) string {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}
