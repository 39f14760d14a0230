package checks

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/pipeline"
	"github.com/hitl-mlops/interrupt-agent/magefiles/toolchain"
)

// goCoverageName is the check that merges the Go test groups' profiles.
const goCoverageName = "go-coverage"

// coverProfile is a parsed Go coverage profile: one count per block
// (file:start,end), with the block's statement count.
type coverProfile struct {
	mode   string
	blocks map[string]coverBlock
}

type coverBlock struct {
	stmts int
	count int64
}

// readCoverProfile adds the blocks of the profile at path to p; a block
// listed twice (a package in two profiles) is covered when either run
// covered it.
func (p *coverProfile) read(path string) error {
	f, err := os.Open(path) // #nosec G304 -- a coverage profile a go-test group of this run wrote under artifacts/
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if mode, ok := strings.CutPrefix(line, "mode: "); ok {
			if p.mode != "" && p.mode != mode {
				return fmt.Errorf("%s: coverage mode %s, want %s", path, mode, p.mode)
			}
			p.mode = mode
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		// file.go:12.34,14.2 <statements> <count>
		f := strings.Fields(line)
		if len(f) != 3 {
			return fmt.Errorf("%s:%d: not a coverage block: %q", path, n, line)
		}
		stmts, err1 := strconv.Atoi(f[1])
		count, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%s:%d: not a coverage block: %q", path, n, line)
		}
		b := p.blocks[f[0]]
		b.stmts = stmts
		b.count += count
		p.blocks[f[0]] = b
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if p.mode == "" {
		return fmt.Errorf("%s: no mode line: not a Go coverage profile", path)
	}
	return nil
}

func newCoverProfile() *coverProfile { return &coverProfile{blocks: map[string]coverBlock{}} }

// percent is the share of statements in covered blocks.
func (p *coverProfile) percent() float64 {
	var all, covered int
	for _, b := range p.blocks {
		all += b.stmts
		if b.count > 0 {
			covered += b.stmts
		}
	}
	if all == 0 {
		return 0
	}
	return 100 * float64(covered) / float64(all)
}

func (p *coverProfile) write(path string) error {
	keys := make([]string, 0, len(p.blocks))
	for k := range p.blocks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "mode: %s\n", p.mode)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d %d\n", k, p.blocks[k].stmts, p.blocks[k].count)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// profileCoverage is the statement coverage of one profile.
func profileCoverage(path string) (float64, error) {
	p := newCoverProfile()
	if err := p.read(path); err != nil {
		return 0, err
	}
	return p.percent(), nil
}

// goCoverage merges the profiles of the Go test checks into
// artifacts/coverage/go.out (and go.html) and reports the module's
// statement coverage. Its inputs are the union of theirs: it is cached
// exactly when all of them are.
func goCoverage(cfg Config, groups []string, in pipeline.Inputs) pipeline.Task {
	return pipeline.Task{
		Name:   goCoverageName,
		Deps:   groups,
		Inputs: in,
		Run: func(ctx context.Context, t *pipeline.T) error {
			covDir := filepath.Join(t.Artifacts(), "coverage")
			merged := newCoverProfile()
			for _, g := range groups {
				err := merged.read(filepath.Join(covDir, g+".out"))
				if os.IsNotExist(err) {
					return pipeline.Skip("no coverage profile from %s (its pass is cached from before the profile was removed): go run mage.go ci -nocache -only=go-test", g)
				}
				if err != nil {
					return err
				}
			}
			out := filepath.Join(covDir, "go.out")
			if err := merged.write(out); err != nil {
				return err
			}
			// The HTML view is a convenience; a failure here is not the tests'.
			if err := toolchain.Run(ctx, toolchain.Cmd{Name: "go", Args: []string{"tool", "cover", "-html=" + out, "-o", filepath.Join(covDir, "go.html")}, Dir: cfg.Root}); err != nil {
				t.Printf("warning: go tool cover -html: %v", err)
			}
			t.Summary("%.1f%% of statements (%d checks merged)", merged.percent(), len(groups))
			return nil
		},
	}
}
