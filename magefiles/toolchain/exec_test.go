package toolchain

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/cputime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		cmd      Cmd
		wantErr  bool
		wantCode int
	}{
		{"success", Cmd{Name: "true"}, false, 0},
		{"non-zero exit", Cmd{Name: "sh", Args: []string{"-c", "exit 3"}}, true, 3},
		{"missing binary", Cmd{Name: "definitely-not-a-tool-xyz"}, true, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), tt.cmd)
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.wantCode, ExitCode(err))
		})
	}
}

func TestArgumentsAreNotExpanded(t *testing.T) {
	out, err := Output(context.Background(), Cmd{Name: "echo", Args: []string{"$HOME", "*.go", "a;b"}})
	require.NoError(t, err)
	assert.Equal(t, "$HOME *.go a;b\n", out)
}

func TestOutputIncludesStderrOnFailure(t *testing.T) {
	_, err := Output(context.Background(), Cmd{Name: "sh", Args: []string{"-c", "echo broken config >&2; exit 2"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken config")
	assert.Equal(t, 2, ExitCode(err))
}

// TestCancelKillsProcessGroup starts a shell that forks a long sleep and
// records its pid; cancelling must kill the grandchild too, not only the shell.
func TestCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Cmd{Name: "sh", Args: []string{"-c", "sleep 300 & echo $! > " + pidFile + "; wait"}})
	}()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		return err == nil && len(strings.TrimSpace(string(b))) > 0
	}, 10*time.Second, 10*time.Millisecond)
	cancel()

	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	assert.Eventually(t, func() bool {
		return syscall.Kill(pid, 0) != nil // gone (ESRCH)
	}, 10*time.Second, 20*time.Millisecond, "grandchild sleep %d survived cancellation", pid)
}

func TestTail(t *testing.T) {
	tests := []struct {
		name, output, want string
		n                  int
	}{
		{"longer keeps the last lines", "a\nb\nc\nd\n", "c\nd", 2},
		{"shorter is whole", "a\nb\n", "a\nb", 5},
		{"surrounding blank lines go", "\n\na\n\n", "a", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Tail(tt.output, tt.n))
		})
	}
}

// TestCoreBoundReachesGoPrograms runs this test binary again as the
// command, so what is asserted is the Go runtime's own reading of the
// environment, not the variable's text.
func TestCoreBoundReachesGoPrograms(t *testing.T) {
	if os.Getenv("TOOLCHAIN_PRINT_GOMAXPROCS") == "1" {
		os.Stdout.WriteString(strconv.Itoa(runtime.GOMAXPROCS(0)))
		os.Exit(0)
	}
	self := Cmd{Name: os.Args[0], Args: []string{"-test.run=^TestCoreBoundReachesGoPrograms$"}, Env: []string{"TOOLCHAIN_PRINT_GOMAXPROCS=1"}}
	procs := func(ctx context.Context, c Cmd) int {
		out, err := Output(ctx, c)
		require.NoError(t, err)
		n, err := strconv.Atoi(out)
		require.NoError(t, err, out)
		return n
	}
	t.Setenv("GOMAXPROCS", "") // as when the user sets none
	require.NoError(t, os.Unsetenv("GOMAXPROCS"))

	// The bound differs from the runtime's default whatever the machine
	// (a GOMAXPROCS above the CPU count is allowed).
	unbounded := procs(context.Background(), self)
	bounded := cputime.WithCores(context.Background(), unbounded+1)
	assert.Equal(t, unbounded+1, procs(bounded, self), "the check's share")

	own := self
	own.Env = append(own.Env, "GOMAXPROCS="+strconv.Itoa(unbounded+2))
	assert.Equal(t, unbounded+2, procs(bounded, own), "a command's own setting wins")

	t.Setenv("GOMAXPROCS", strconv.Itoa(unbounded+3))
	assert.Equal(t, unbounded+3, procs(bounded, self), "the user's setting wins")
}
