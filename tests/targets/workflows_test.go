package targets

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/hitl-mlops/interrupt-agent/magefiles/project"
)

// mageCall finds `go run mage.go <target> <args>` (or `mage <target>`) in a
// step: mage's own flags, the target, and the rest of the line.
var mageCall = regexp.MustCompile(`(?:go run mage\.go|\bmage)\s+((?:-\S+\s+)*)([a-zA-Z][\w:]*)([^\n]*)`)

type workflow struct {
	Jobs map[string]struct {
		Steps []struct {
			Run  string `yaml:"run"`
			Uses string `yaml:"uses"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// call is one mage call in a workflow.
type call struct {
	target string // lower case, as mage matches it
	args   string // the rest of the line
	where  string // "file: job"
}

// workflowCalls returns every mage call in the workflows under dir.
func workflowCalls(t *testing.T, dir string) []call {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no workflows under %s", dir)
	var calls []call
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var wf workflow
		require.NoError(t, yaml.Unmarshal(b, &wf), f)
		for job, j := range wf.Jobs {
			for _, s := range j.Steps {
				for _, m := range mageCall.FindAllStringSubmatch(s.Run, -1) {
					calls = append(calls, call{target: strings.ToLower(m[2]), args: m[3], where: filepath.Base(f) + ": " + job})
				}
			}
		}
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].where+calls[i].target < calls[j].where+calls[j].target })
	return calls
}

// calledTargets returns target -> "file: job" for every mage call in the workflows.
func calledTargets(t *testing.T, dir string) map[string]string {
	t.Helper()
	calls := map[string]string{}
	for _, c := range workflowCalls(t, dir) {
		calls[c.target] = c.where
	}
	return calls
}

func missingTargets(calls map[string]string, listed map[string]bool) []string {
	lower := map[string]bool{}
	for name := range listed {
		lower[strings.ToLower(name)] = true
	}
	var missing []string
	for target, where := range calls {
		if !lower[target] {
			missing = append(missing, target+" ("+where+")")
		}
	}
	sort.Strings(missing)
	return missing
}

// TestWorkflowsCallExistingTargets makes a renamed target break CI, not a
// release: every target a workflow calls must be in `mage -l`.
func TestWorkflowsCallExistingTargets(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	calls := calledTargets(t, filepath.Join(root, ".github", "workflows"))
	require.NotEmpty(t, calls)
	assert.Empty(t, missingTargets(calls, listedTargets(t)), "workflows call targets that do not exist")
}

// TestRenamedTargetIsCaught proves the check above can fail: a workflow
// calling a target that is not listed is reported with its job.
func TestRenamedTargetIsCaught(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cd.yml"), []byte(`
jobs:
  deploy-dev:
    steps:
      - run: go run mage.go deploy:development
      - run: go run mage.go -v ci
`), 0o644))
	calls := calledTargets(t, dir)
	assert.Equal(t, map[string]string{"deploy:development": "cd.yml: deploy-dev", "ci": "cd.yml: deploy-dev"}, calls)
	assert.Equal(t, []string{"deploy:development (cd.yml: deploy-dev)"}, missingTargets(calls, map[string]bool{"ci": true, "deploy:dev": true}))
}

// signature is what `mage -h <target>` says a target takes.
type signature struct {
	required []string          // positional arguments, in order
	flags    map[string]string // optional flags and their types
}

var (
	usageLine  = regexp.MustCompile(`(?m)^\s+\S+ ([a-z][\w:]*)((?: <[^>]+>)*)(.*)$`)
	inlineFlag = regexp.MustCompile(`\[-(\w+)=<(\w+)>\]`)
	flagLine   = regexp.MustCompile(`(?m)^\s+-(\w+)=<(\w+)>\s*$`)
)

// parseUsage reads the usage `mage -h <target>` prints.
func parseUsage(out string) (signature, bool) {
	m := usageLine.FindStringSubmatch(out)
	if m == nil {
		return signature{}, false
	}
	sig := signature{flags: map[string]string{}}
	for _, a := range strings.Fields(m[2]) {
		sig.required = append(sig.required, strings.Trim(a, "<>"))
	}
	for _, f := range inlineFlag.FindAllStringSubmatch(m[3], -1) {
		sig.flags[f[1]] = f[2]
	}
	for _, f := range flagLine.FindAllStringSubmatch(out, -1) {
		sig.flags[f[1]] = f[2]
	}
	return sig, true
}

// shellEnd ends a command's arguments on a line.
var shellEnd = map[string]bool{"&&": true, "||": true, "|": true, ";": true, ">": true, ">>": true, "2>": true, "2>&1": true}

// checkArgs compares a call's arguments with the target's signature: the
// number of positional arguments, and every flag known, with a value
// unless it is a bool.
func checkArgs(sig signature, args string) []string {
	var problems []string
	positional := 0
	for _, tok := range strings.Fields(args) {
		if shellEnd[tok] || strings.HasPrefix(tok, ">") || strings.HasPrefix(tok, "#") {
			break
		}
		tok = strings.Trim(tok, `"'`)
		if !strings.HasPrefix(tok, "-") {
			positional++
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(tok, "-"), "=")
		typ, ok := sig.flags[name]
		switch {
		case !ok:
			known := make([]string, 0, len(sig.flags))
			for f := range sig.flags {
				known = append(known, "-"+f)
			}
			sort.Strings(known)
			problems = append(problems, fmt.Sprintf("unknown flag -%s (the target takes %s)", name, strings.Join(known, " ")))
		case typ != "bool" && (!hasValue || value == ""):
			problems = append(problems, fmt.Sprintf("flag -%s needs a value (-%s=<%s>)", name, name, typ))
		}
	}
	if positional != len(sig.required) {
		problems = append(problems, fmt.Sprintf("%d argument(s), the target takes %d (%s)", positional, len(sig.required), strings.Join(sig.required, ", ")))
	}
	return problems
}

// TestWorkflowsCallTargetsWithTheirFlags: every flag a workflow passes is
// one the target declares (a misspelt -yess fails here, not at release
// time), and the arguments match its signature.
func TestWorkflowsCallTargetsWithTheirFlags(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	calls := workflowCalls(t, filepath.Join(root, ".github", "workflows"))
	require.NotEmpty(t, calls)
	sigs := map[string]signature{}
	for _, c := range calls {
		sig, ok := sigs[c.target]
		if !ok {
			out, err := mage(t, "-h", c.target)
			require.NoError(t, err, out)
			sig, ok = parseUsage(out)
			require.True(t, ok, "no usage for %s:\n%s", c.target, out)
			sigs[c.target] = sig
		}
		assert.Empty(t, checkArgs(sig, c.args), "%s calls %s%s", c.where, c.target, c.args)
	}
}

// TestBadFlagsAreCaught proves the check above can fail.
func TestBadFlagsAreCaught(t *testing.T) {
	out, err := mage(t, "-h", "rollback")
	require.NoError(t, err, out)
	rollback, ok := parseUsage(out)
	require.True(t, ok, out)
	assert.Equal(t, []string{"env"}, rollback.required)
	assert.Equal(t, "bool", rollback.flags["yes"])
	out, err = mage(t, "-h", "release:notes")
	require.NoError(t, err, out)
	notes, ok := parseUsage(out)
	require.True(t, ok, out)
	assert.Equal(t, map[string]string{"tag": "string"}, notes.flags, "a single flag is printed inline")

	tests := []struct {
		sig  signature
		args string
		want string
	}{
		{rollback, " prod -yess", "unknown flag -yess (the target takes -check -to -version -yes)"},
		{rollback, " -yes", "0 argument(s), the target takes 1 (env)"},
		{rollback, " prod -to", "flag -to needs a value (-to=<string>)"},
		{notes, ` -tag="$RELEASE_TAG" -draft`, "unknown flag -draft"},
	}
	for _, tt := range tests {
		problems := checkArgs(tt.sig, tt.args)
		require.NotEmpty(t, problems, tt.args)
		assert.Contains(t, strings.Join(problems, "\n"), tt.want)
	}
	assert.Empty(t, checkArgs(rollback, " prod -yes && echo done"))
	assert.Empty(t, checkArgs(notes, ` -tag="$RELEASE_TAG" > notes.log`))
}

// usesRef is a step's `uses: owner/repo[/path]@ref # comment`.
var usesRef = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*([^@\s]+)@(\S+)\s*(?:#\s*(.*))?$`)

var (
	fullSHA    = regexp.MustCompile(`^[0-9a-f]{40}$`)
	versionTag = regexp.MustCompile(`^v\d+(\.\d+){0,2}\b`)
)

// unpinnedActions lists the `uses:` lines of a workflow that do not name a
// full commit SHA with the version in a comment. A tag can be moved by
// whoever controls the action's repository; a commit cannot.
func unpinnedActions(name string, text string) []string {
	var out []string
	for i, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, "uses:") {
			continue
		}
		if _, ref, _ := strings.Cut(line, "uses:"); strings.HasPrefix(strings.TrimSpace(ref), "./") {
			continue // a local action is pinned by this repository's own commit
		}
		m := usesRef.FindStringSubmatch(line)
		switch {
		case m == nil:
			out = append(out, fmt.Sprintf("%s:%d: cannot read %q", name, i+1, strings.TrimSpace(line)))
		case !fullSHA.MatchString(m[2]):
			out = append(out, fmt.Sprintf("%s:%d: %s@%s is not pinned to a full commit SHA", name, i+1, m[1], m[2]))
		case !versionTag.MatchString(strings.TrimSpace(m[3])):
			out = append(out, fmt.Sprintf("%s:%d: %s@%s has no version comment (# vX.Y.Z)", name, i+1, m[1], m[2]))
		}
	}
	return out
}

// TestActionsPinnedToCommits: every third-party action is pinned to a full
// commit SHA, with the version it is in a comment; every job keeps its
// reports (an upload-artifact step).
func TestActionsPinnedToCommits(t *testing.T) {
	root, err := project.Root()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Empty(t, unpinnedActions(filepath.Base(f), string(b)))
		var wf workflow
		require.NoError(t, yaml.Unmarshal(b, &wf))
		for job, j := range wf.Jobs {
			keeps := false
			for _, s := range j.Steps {
				keeps = keeps || strings.HasPrefix(s.Uses, "actions/upload-artifact@")
			}
			assert.True(t, keeps, "%s: job %s keeps no reports (no actions/upload-artifact step)", filepath.Base(f), job)
		}
	}

	bad := "steps:\n  - uses: actions/checkout@v4\n  - uses: actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5\n  - uses: actions/cache@5a3ec84 # v4.2.3\n  - uses: ./local-action\n"
	assert.Equal(t, []string{
		"x.yml:2: actions/checkout@v4 is not pinned to a full commit SHA",
		"x.yml:3: actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 has no version comment (# vX.Y.Z)",
		"x.yml:4: actions/cache@5a3ec84 is not pinned to a full commit SHA",
	}, unpinnedActions("x.yml", bad))
}
