package releasenotes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// git runs one git command in dir, without a shell, and returns stdout.
// User settings that would change the output format are pinned.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	full := append([]string{
		"-c", "log.showSignature=false",
		"-c", "i18n.logOutputEncoding=UTF-8",
		"-c", "color.ui=false",
	}, args...)
	// #nosec G204 -- git, a fixed program; the arguments are git subcommands and refs this package builds, never a shell
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("git %s: %w", args[0], ctx.Err())
	case errors.Is(err, exec.ErrNotFound):
		return "", errors.New("git is not installed or not on PATH")
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("git %s: %w", args[0], err)
		}
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, msg)
	}
	return stdout.String(), nil
}

// Separators that cannot occur in a commit message's text.
const (
	fieldSep  = "\x1f"
	recordSep = "\x1e"
)

// logFormat: full SHA, short SHA, author, author date, raw message.
const logFormat = "%H" + fieldSep + "%h" + fieldSep + "%an" + fieldSep + "%aI" + fieldSep + "%B" + recordSep

// commits lists the non-merge commits in rangeSpec, newest first. Merge
// commits are left out: their changes are the commits they bring in.
func commits(ctx context.Context, dir, rangeSpec string) ([]Commit, error) {
	out, err := git(ctx, dir, "log", "--no-merges", "--format="+logFormat, rangeSpec, "--")
	if err != nil {
		return nil, err
	}
	var list []Commit
	for rec := range strings.SplitSeq(out, recordSep) {
		rec = strings.TrimLeft(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.SplitN(rec, fieldSep, 5)
		if len(f) != 5 {
			return nil, fmt.Errorf("git log: unexpected record %q", truncate(rec, 80))
		}
		c := ParseMessage(f[4])
		c.SHA, c.ShortSHA, c.Author = f[0], f[1], f[2]
		if c.Date, err = time.Parse(time.RFC3339, f[3]); err != nil {
			return nil, fmt.Errorf("git log: commit %s date: %w", f[1], err)
		}
		list = append(list, c)
	}
	return list, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
