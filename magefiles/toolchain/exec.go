// Package toolchain finds and provisions the external tools the checks run,
// and runs them: context-aware, without a shell, killing the whole process
// group on cancellation so Ctrl-C never leaves a scanner running.
package toolchain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cputime"
)

// killGrace is how long a cancelled tool gets between SIGTERM and SIGKILL.
const killGrace = 3 * time.Second

// Cmd is one external command. Args are passed verbatim: there is no shell,
// so `$HOME` or `*.go` in an argument reach the tool unexpanded.
type Cmd struct {
	Name   string
	Args   []string
	Dir    string
	Env    []string // added to the process environment, KEY=VALUE
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// String renders the command line for messages.
func (c Cmd) String() string {
	return strings.TrimSpace(c.Name + " " + strings.Join(c.Args, " "))
}

// ExitError reports a command that ran and exited non-zero.
type ExitError struct {
	Cmd  string
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s: exit status %d", e.Cmd, e.Code)
}

// ExitCode returns the exit code in err, or -1 when err is not an ExitError.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// Run runs c to completion. A non-zero exit is an *ExitError; a cancelled
// context terminates the command's whole process group and returns ctx.Err().
func Run(ctx context.Context, c Cmd) error {
	// #nosec G204 -- the one tool runner: callers name a pinned tool (toolchain.GoTools) or a found interpreter, with argument lists, never a shell command line
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	if n := cputime.Cores(ctx); n > 0 && !setsEnv(cmd.Env, "GOMAXPROCS") {
		// The check's share of the cores, for the Go programs it runs (the
		// go command, test binaries, the Go linters); a GOMAXPROCS the
		// user set wins.
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(n))
	}
	cmd.Stdin = c.Stdin
	cmd.Stdout = orDiscard(c.Stdout)
	cmd.Stderr = orDiscard(c.Stderr)
	// Own process group: the tool's children (pytest workers, go test
	// binaries) are signalled with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = killGrace

	err := cmd.Run()
	if cmd.ProcessState != nil {
		// The command's own time and that of the children it waited for
		// (a go test's compiles and test binaries).
		cputime.Add(ctx, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	if cmd.Process != nil {
		// Reap stragglers that outlived the leader, whatever happened.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", c.Name, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ExitError{Cmd: filepath.Base(c.Name), Code: ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", c.Name, err)
	}
	return nil
}

// Output runs c and returns its standard output; standard error is appended
// to the error message when the command fails.
func Output(ctx context.Context, c Cmd) (string, error) {
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := Run(ctx, c); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return stdout.String(), fmt.Errorf("%w: %s", err, Tail(msg, 20))
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// setsEnv reports whether env, KEY=VALUE entries, sets key.
func setsEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Tail is the last n lines of a command's output, for an error message
// that shows why it failed without its whole log.
func Tail(output string, n int) string {
	lines := strings.Split(strings.TrimSpace(output), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
