package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// Python code quality, one task per tool so they run in parallel, cache
// apart and each report their own findings: black, isort, flake8, pylint,
// mypy. Their settings live in pyproject.toml (flake8: setup.cfg).

// pyDirs are the Python trees the formatters and flake8 read; pylint and
// mypy read pyStrictDirs.
var (
	pyDirs       = []string{"src", "tests", "scripts"}
	pyStrictDirs = []string{"src"}
)

func pyGlobs(dirs []string) []string {
	var g []string
	for _, d := range dirs {
		g = append(g, d+"/**/*.py")
	}
	return g
}

// existingDirs keeps the directories that exist under root.
func existingDirs(root string, dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if isDir(filepath.Join(root, d)) {
			out = append(out, d)
		}
	}
	return out
}

// pyTool is one Python quality tool as a task.
type pyTool struct {
	name    string
	module  string   // the module run with -m, also what must be installed
	dirs    []string // trees it reads
	configs []string // files whose settings it reads
	args    func(cfg Config, dirs []string) []string
	// parse turns the tool's output into findings; the tool failed when
	// there are error findings or a non-zero exit with none.
	parse func(cfg Config, stdout, stderr string) ([]pipeline.Finding, error)
	what  string // what a finding is, for the summary: "file(s) to reformat"
}

func (p pyTool) task(cfg Config) pipeline.Task {
	modules := []string{p.module}
	pys := cfg.python()
	return pipeline.Task{
		Name: p.name,
		Inputs: pipeline.Inputs{
			Files:   append(pyGlobs(p.dirs), p.configs...),
			Version: pythonToolsVersion(pys, "", modules),
		},
		Run: func(ctx context.Context, t *pipeline.T) error {
			dirs := existingDirs(cfg.Root, p.dirs)
			if len(dirs) == 0 {
				return pipeline.Skip("no Python code in %s", strings.Join(p.dirs, ", "))
			}
			py, err := pys.Ensure(ctx, logTo(t), modules...)
			if err != nil {
				return err
			}
			var stdout, stderr bytes.Buffer
			runErr := toolchain.Run(ctx, toolchain.Cmd{
				Name: py.Path, Args: append([]string{"-m", p.module}, p.args(cfg, dirs)...),
				Dir: cfg.Root, Env: []string{"PYTHONDONTWRITEBYTECODE=1"}, Stdout: &stdout, Stderr: &stderr,
			})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fs, perr := p.parse(cfg, stdout.String(), stderr.String())
			if perr != nil {
				t.Printf("%s%s", stdout.String(), stderr.String())
				return fmt.Errorf("%s: %w", p.name, perr)
			}
			return reportLint(t, p.name, fs, runErr, stdout.String()+stderr.String(), p.what)
		},
	}
}

// reportLint records findings and decides: error findings fail; a
// non-zero exit without any finding is a tool failure, shown whole.
func reportLint(t *pipeline.T, name string, fs []pipeline.Finding, runErr error, output, what string) error {
	errs := 0
	files := map[string]bool{}
	for _, f := range fs {
		t.Finding(f)
		t.Printf("%s", formatFinding(f))
		if f.Severity == "" || f.Severity == "error" {
			errs++
			files[f.File] = true
		}
	}
	if errs > 0 {
		if what == "" {
			what = "problem(s)"
		}
		t.Summary("%d %s in %d file(s)", errs, what, len(files))
		first := firstError(fs)
		return fmt.Errorf("%d %s; first: %s", errs, what, formatFinding(first))
	}
	if runErr != nil {
		t.Printf("%s", strings.TrimSpace(output))
		return fmt.Errorf("%s: %w", name, runErr)
	}
	if len(fs) > 0 {
		t.Summary("clean (%d notes)", len(fs))
	} else {
		t.Summary("clean")
	}
	return nil
}

func firstError(fs []pipeline.Finding) pipeline.Finding {
	for _, f := range fs {
		if f.Severity == "" || f.Severity == "error" {
			return f
		}
	}
	return fs[0]
}

func formatFinding(f pipeline.Finding) string {
	loc := f.File
	if f.Line > 0 {
		loc += ":" + strconv.Itoa(f.Line)
		if f.Col > 0 {
			loc += ":" + strconv.Itoa(f.Col)
		}
	}
	if f.Rule != "" {
		return fmt.Sprintf("%s: %s [%s]", loc, f.Message, f.Rule)
	}
	return fmt.Sprintf("%s: %s", loc, f.Message)
}

// Black fails when black would reformat a Python file.
func Black(cfg Config) pipeline.Task {
	return pyTool{
		name: "black", module: "black", dirs: pyDirs, configs: []string{"pyproject.toml"}, what: "file(s) to reformat",
		args: func(_ Config, dirs []string) []string { return append([]string{"--check", "--diff", "-q"}, dirs...) },
		parse: func(cfg Config, stdout, stderr string) ([]pipeline.Finding, error) {
			fs := diffFindings(cfg.Root, stdout, "black", "not formatted as black would; run: black %s")
			if strings.Contains(stderr, "error: cannot format") {
				for _, m := range blackCannot.FindAllStringSubmatch(stderr, -1) {
					fs = append(fs, pipeline.Finding{File: relURI(cfg.Root, m[1]), Rule: "black", Message: "cannot format: " + m[2]})
				}
			}
			return fs, nil
		},
	}.task(cfg)
}

var blackCannot = regexp.MustCompile(`(?m)^error: cannot format ([^:]+): (.*)$`)

// Isort fails when imports are not sorted as isort would sort them.
func Isort(cfg Config) pipeline.Task {
	return pyTool{
		name: "isort", module: "isort", dirs: pyDirs, configs: []string{"pyproject.toml", "setup.cfg", ".isort.cfg"}, what: "file(s) with unsorted imports",
		args: func(_ Config, dirs []string) []string { return append([]string{"--check-only", "--diff"}, dirs...) },
		parse: func(cfg Config, stdout, stderr string) ([]pipeline.Finding, error) {
			fs := diffFindings(cfg.Root, stdout, "isort", "imports are not sorted; run: isort %s")
			// Files isort complains about without a diff hunk (rare).
			seen := map[string]bool{}
			for _, f := range fs {
				seen[f.File] = true
			}
			for _, m := range isortError.FindAllStringSubmatch(stderr, -1) {
				if f := relURI(cfg.Root, m[1]); !seen[f] {
					fs = append(fs, pipeline.Finding{File: f, Line: 1, Rule: "isort", Message: "imports are not sorted; run: isort " + f})
				}
			}
			return fs, nil
		},
	}.task(cfg)
}

var isortError = regexp.MustCompile(`(?m)ERROR: (\S+) Imports are incorrectly sorted`)

var (
	diffOld  = regexp.MustCompile(`^--- (\S+?)(?::before)?(?:\t.*| .*)?$`)
	diffHunk = regexp.MustCompile(`^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@`)
)

// diffFindings reads a unified diff (black --diff, isort --diff) into one
// finding per file, at the first changed line.
func diffFindings(root, diff, rule, msgFormat string) []pipeline.Finding {
	var fs []pipeline.Finding
	var file string
	line, located := 0, false
	flush := func() {
		if file != "" {
			fs = append(fs, pipeline.Finding{File: file, Line: max(line, 1), Rule: rule, Message: fmt.Sprintf(msgFormat, file)})
		}
	}
	for _, l := range strings.Split(diff, "\n") {
		if m := diffOld.FindStringSubmatch(l); m != nil {
			flush()
			file, line, located = relURI(root, m[1]), 0, false
			continue
		}
		if file == "" || located {
			continue
		}
		if m := diffHunk.FindStringSubmatch(l); m != nil && line == 0 {
			line, _ = strconv.Atoi(m[1])
			continue
		}
		if line > 0 {
			switch {
			case strings.HasPrefix(l, " "):
				line++
			case strings.HasPrefix(l, "-"), strings.HasPrefix(l, "+"):
				located = true
			}
		}
	}
	flush()
	return fs
}

// Flake8 reports style errors and pyflakes findings.
func Flake8(cfg Config) pipeline.Task {
	return pyTool{
		name: "flake8", module: "flake8", dirs: pyDirs, configs: []string{"setup.cfg", "tox.ini", ".flake8"}, what: "finding(s)",
		args: func(_ Config, dirs []string) []string {
			return append([]string{"--format=%(path)s:%(row)d:%(col)d: %(code)s %(text)s"}, dirs...)
		},
		parse: func(cfg Config, stdout, _ string) ([]pipeline.Finding, error) {
			var fs []pipeline.Finding
			for _, m := range flake8Line.FindAllStringSubmatch(stdout, -1) {
				fs = append(fs, pipeline.Finding{File: relURI(cfg.Root, m[1]), Line: atoiSafe(m[2]), Col: atoiSafe(m[3]), Rule: m[4], Message: m[5]})
			}
			return fs, nil
		},
	}.task(cfg)
}

var flake8Line = regexp.MustCompile(`(?m)^(.+?):(\d+):(\d+): ([A-Z]+\d+) (.*)$`)

// Pylint reports pylint messages on the payload (src/).
func Pylint(cfg Config) pipeline.Task {
	return pyTool{
		name: "pylint", module: "pylint", dirs: pyStrictDirs, configs: []string{"pyproject.toml", ".pylintrc", "pylintrc", "setup.cfg"}, what: "message(s)",
		args: func(_ Config, dirs []string) []string {
			return append([]string{"--output-format=json", "--score=n", "--persistent=n"}, dirs...)
		},
		parse: func(cfg Config, stdout, stderr string) ([]pipeline.Finding, error) {
			return parsePylint(cfg.Root, stdout)
		},
	}.task(cfg)
}

type pylintMessage struct {
	Type      string `json:"type"` // fatal, error, warning, convention, refactor, info
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Path      string `json:"path"`
	Symbol    string `json:"symbol"`
	Message   string `json:"message"`
	MessageID string `json:"message-id"`
}

func parsePylint(root, stdout string) ([]pipeline.Finding, error) {
	s := strings.TrimSpace(stdout)
	if s == "" {
		return nil, nil
	}
	var msgs []pylintMessage
	if err := json.Unmarshal([]byte(s), &msgs); err != nil {
		return nil, fmt.Errorf("parse pylint JSON: %w", err)
	}
	fs := make([]pipeline.Finding, 0, len(msgs))
	for _, m := range msgs {
		sev := "error"
		if m.Type == "info" {
			sev = "notice"
		}
		fs = append(fs, pipeline.Finding{File: relURI(root, m.Path), Line: m.Line, Col: m.Column + 1,
			Rule: m.MessageID + " " + m.Symbol, Severity: sev, Message: m.Message})
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].File != fs[j].File {
			return fs[i].File < fs[j].File
		}
		return fs[i].Line < fs[j].Line
	})
	return fs, nil
}

// Mypy type-checks the payload and its tests with the project's settings.
func Mypy(cfg Config) pipeline.Task {
	return pyTool{
		name: "mypy", module: "mypy", dirs: []string{"src", "tests"}, configs: []string{"pyproject.toml", "mypy.ini", "setup.cfg"}, what: "type error(s)",
		args: func(cfg Config, dirs []string) []string {
			return append([]string{"--show-column-numbers", "--no-error-summary", "--no-color-output", "--no-pretty",
				"--cache-dir", filepath.Join(cfg.Root, ".cache", "mypy")}, dirs...)
		},
		parse: func(cfg Config, stdout, _ string) ([]pipeline.Finding, error) {
			return parseMypy(cfg.Root, stdout), nil
		},
	}.task(cfg)
}

var mypyLine = regexp.MustCompile(`(?m)^(.+?\.pyi?):(\d+)(?::(\d+))?: (error|warning|note): (.*?)(?:  \[([a-z0-9-]+)\])?$`)

func parseMypy(root, out string) []pipeline.Finding {
	var fs []pipeline.Finding
	for _, m := range mypyLine.FindAllStringSubmatch(out, -1) {
		sev := m[4]
		if sev == "note" {
			sev = "notice"
		}
		fs = append(fs, pipeline.Finding{File: relURI(root, m[1]), Line: atoiSafe(m[2]), Col: atoiSafe(m[3]),
			Rule: m[6], Severity: sev, Message: m[5]})
	}
	return fs
}
