package emulator

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/databricks/databricks-sdk-go/service/catalog"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// Workspaces are several emulated workspaces in one process, as dev,
// staging and prod are separate workspaces in reality: each has its own
// state, URL, token and workspace id, so a run id, model version, file or
// endpoint of one is unknown to the others.
type Workspaces struct {
	names []string
	byEnv map[string]*Server
	uc    *unitycatalog.Metastore
}

var workspaceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// StartWorkspaces starts one server per name with opts as the template,
// all attached to one Unity Catalog metastore (opts.Metastore, or a new
// one). Each gets its own free port (or Addr's port plus its index), token,
// principal (UserName with +<name>: emulator+dev@localhost),
// workspace id (DefaultWorkspaceID plus its index plus one), seed (from its
// name) and, with StateFile "w.json", state file "w-<name>.json".
func StartWorkspaces(names []string, opts Options) (*Workspaces, error) {
	if len(names) == 0 {
		return nil, errors.New("emulator: no workspace names")
	}
	ws := &Workspaces{byEnv: map[string]*Server{}}
	if opts.Metastore == nil {
		clock := opts.Clock
		if clock == nil {
			clock = core.WallClock{}
		}
		opts.Metastore = unitycatalog.New(unitycatalog.Options{Clock: clock})
	}
	ws.uc = opts.Metastore
	for i, name := range names {
		if !workspaceName.MatchString(name) {
			_ = ws.Close()
			return nil, fmt.Errorf("emulator: workspace name %q: use lower-case letters, digits and _ (dev, staging, prod)", name)
		}
		if _, dup := ws.byEnv[name]; dup {
			_ = ws.Close()
			return nil, fmt.Errorf("emulator: workspace %q named twice", name)
		}
		o, err := workspaceOptions(opts, name, i)
		if err != nil {
			_ = ws.Close()
			return nil, err
		}
		srv, err := Start(o)
		if err != nil {
			_ = ws.Close()
			return nil, fmt.Errorf("emulator: workspace %s: %w", name, err)
		}
		ws.names = append(ws.names, name)
		ws.byEnv[name] = srv
	}
	if opts.CatalogSchema != "" {
		if err := ws.seedCatalogs(opts.CatalogSchema); err != nil {
			_ = ws.Close()
			return nil, err
		}
	}
	return ws, nil
}

// seedCatalogs creates a catalog per workspace with the schema, owned by the
// workspace's principal, and grants each workspace read on the previous
// workspace's catalog (see Options.CatalogSchema).
func (ws *Workspaces) seedCatalogs(schema string) error {
	for i, name := range ws.names {
		owner := ws.byEnv[name].UserName()
		if err := ws.uc.CreateCatalog(owner, name); err != nil {
			return fmt.Errorf("emulator: seed catalogs: %w", err)
		}
		if err := ws.uc.CreateSchema(owner, name, schema); err != nil {
			return fmt.Errorf("emulator: seed catalogs: %w", err)
		}
		if i == 0 {
			continue
		}
		prev := ws.names[i-1]
		if err := ws.uc.Grant(catalog.SecurableTypeCatalog, prev, owner,
			catalog.PrivilegeUseCatalog, catalog.PrivilegeUseSchema, catalog.PrivilegeExecute); err != nil {
			return fmt.Errorf("emulator: seed catalogs: %w", err)
		}
	}
	return nil
}

// Metastore is the Unity Catalog metastore every workspace is attached to.
func (ws *Workspaces) Metastore() *unitycatalog.Metastore { return ws.uc }

func workspaceOptions(opts Options, name string, i int) (Options, error) {
	o := opts
	o.Token = ""
	o.ExtraTokens = nil
	// Each workspace has its own principal, so Unity Catalog grants between
	// them mean something: emulator+dev@localhost for the default user.
	user := opts.UserName
	if user == "" {
		user = "emulator@localhost"
	}
	local, domain, _ := strings.Cut(user, "@")
	o.UserName = local + "+" + name
	if domain != "" {
		o.UserName += "@" + domain
	}
	o.WorkspaceID = DefaultWorkspaceID + int64(i) + 1
	if opts.WorkspaceID != 0 {
		o.WorkspaceID = opts.WorkspaceID + int64(i)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	o.Seed = opts.Seed ^ h.Sum64() // reproducible, and distinct per workspace
	if opts.Addr != "" {
		host, port, err := net.SplitHostPort(opts.Addr)
		if err != nil {
			return o, fmt.Errorf("emulator address %q: %w", opts.Addr, err)
		}
		if p, _ := strconv.Atoi(port); p != 0 {
			o.Addr = net.JoinHostPort(host, strconv.Itoa(p+i))
		}
	}
	if opts.StateFile != "" {
		ext := filepath.Ext(opts.StateFile)
		o.StateFile = strings.TrimSuffix(opts.StateFile, ext) + "-" + name + ext
	}
	return o, nil
}

// Names are the workspaces in the order given.
func (ws *Workspaces) Names() []string { return append([]string(nil), ws.names...) }

// Get returns the named workspace, or nil.
func (ws *Workspaces) Get(name string) *Server { return ws.byEnv[name] }

// Env is the environment that points the project's client at each
// workspace: DATABRICKS_HOST_<NAME> and DATABRICKS_TOKEN_<NAME>, which the
// client reads before DATABRICKS_HOST and DATABRICKS_TOKEN.
func (ws *Workspaces) Env() map[string]string {
	out := map[string]string{}
	for _, n := range ws.names {
		srv, suffix := ws.byEnv[n], "_"+strings.ToUpper(n)
		out["DATABRICKS_HOST"+suffix] = srv.URL()
		out["DATABRICKS_TOKEN"+suffix] = srv.Token()
	}
	return out
}

// Close stops every workspace.
func (ws *Workspaces) Close() error {
	var errs []error
	for _, n := range ws.names {
		if err := ws.byEnv[n].Close(); err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// ServeWorkspaces runs several workspaces until ctx ends or the process is
// interrupted, after printing the exports for each, ready to paste.
func ServeWorkspaces(ctx context.Context, names []string, opts Options, out io.Writer) error {
	ws, err := StartWorkspaces(names, opts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for _, n := range ws.names {
		srv, suffix := ws.byEnv[n], "_"+strings.ToUpper(n)
		fmt.Fprintf(out, "export DATABRICKS_HOST%s=%s\n", suffix, srv.URL())
		fmt.Fprintf(out, "export DATABRICKS_TOKEN%s=%s\n", suffix, srv.Token())
	}
	fmt.Fprintln(out, "unset DATABRICKS_HOST DATABRICKS_TOKEN DATABRICKS_CONFIG_PROFILE  # each environment has its own workspace")
	fmt.Fprintf(out, "# %d Databricks workspace emulators (%s), %s. Ctrl-C stops them.\n", len(ws.names), strings.Join(ws.names, ", "), describe(opts))
	<-ctx.Done()
	fmt.Fprintln(out, "# emulators stopping")
	if err := ws.Close(); err != nil {
		return fmt.Errorf("stop emulators: %w", err)
	}
	return nil
}

// describe is the one-line summary of a server's clock and persistence.
func describe(opts Options) string {
	scale := "instant state machines"
	if opts.TimeScale > 0 {
		scale = fmt.Sprintf("time scale %g (a 5-minute endpoint update takes %s)", opts.TimeScale, scaled(DefaultDurations.EndpointUpdate, opts.TimeScale))
	}
	state := "state in memory"
	if opts.StateFile != "" {
		state = "state persisted next to " + opts.StateFile
	}
	return scale + ", " + state
}
