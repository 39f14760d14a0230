package emulator

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
)

// Serve runs an emulator until ctx ends or the process is interrupted,
// after printing the environment a shell needs to use it, ready to paste.
func Serve(ctx context.Context, opts Options, out io.Writer) error {
	srv, err := Start(opts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(out, "export DATABRICKS_HOST=%s\n", srv.URL())
	fmt.Fprintf(out, "export DATABRICKS_TOKEN=%s\n", srv.Token())
	fmt.Fprintln(out, "unset DATABRICKS_CONFIG_PROFILE  # the emulator takes a token only")
	fmt.Fprintf(out, "# Databricks workspace emulator on %s: %s. Ctrl-C stops it.\n", srv.URL(), describe(opts))
	<-ctx.Done()
	fmt.Fprintln(out, "# emulator stopping")
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stop emulator: %w", err)
	}
	return nil
}
