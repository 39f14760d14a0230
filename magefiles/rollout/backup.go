package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/redact"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// BackupFormat is the version of the backup file layout.
const BackupFormat = 1

// Backup is an endpoint's config before a production change, with the
// context to understand it later: which release was about to go out, which
// model version was stable, and the release record as it stood.
type Backup struct {
	Format  int       `json:"format"`
	Env     string    `json:"env"`
	Release string    `json:"release"`
	Taken   time.Time `json:"taken"`
	// Endpoint is the endpoint's served config when the backup was taken.
	Endpoint EndpointConfig `json:"endpoint"`
	// StableModel is the model version that was serving as the stable
	// release, as the caller knows it.
	StableModel *ModelRef `json:"stable_model,omitempty"`
	// Record is the caller's release record, as JSON.
	Record json.RawMessage `json:"record,omitempty"`
	// Redacted is set in a copy whose environment variable values were
	// masked; such a copy documents the config but cannot restore it.
	Redacted bool `json:"redacted,omitempty"`
}

// ModelRef names a model version.
type ModelRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// EndpointConfig is what an endpoint served: enough to put it back.
type EndpointConfig struct {
	Name string `json:"name"`
	// Exists is false when there was no endpoint (a first deploy).
	Exists         bool              `json:"exists"`
	ServedEntities []Entity          `json:"served_entities,omitempty"`
	Routes         []serving.Route   `json:"routes,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Ready          string            `json:"ready,omitempty"`
	ConfigUpdate   string            `json:"config_update,omitempty"`
	ConfigVersion  int64             `json:"config_version,omitempty"`
}

// Snapshot is an endpoint's served config (the config that serves, not a
// pending one), in backup form.
func Snapshot(name string, ep *serving.ServingEndpointDetailed) EndpointConfig {
	c := EndpointConfig{Name: name}
	if ep == nil {
		return c
	}
	c.Exists = true
	if ep.State != nil {
		c.Ready, c.ConfigUpdate = string(ep.State.Ready), string(ep.State.ConfigUpdate)
	}
	if len(ep.Tags) > 0 {
		c.Tags = map[string]string{}
		for _, t := range ep.Tags {
			c.Tags[t.Key] = t.Value
		}
	}
	if ep.Config == nil {
		return c
	}
	c.ConfigVersion = ep.Config.ConfigVersion
	for _, o := range ep.Config.ServedEntities {
		c.ServedEntities = append(c.ServedEntities, InputOf(o))
	}
	traffic := Traffic(ep)
	for _, e := range c.ServedEntities {
		c.Routes = append(c.Routes, serving.Route{ServedEntityName: e.Name, TrafficPercentage: traffic[e.Name]})
	}
	return c
}

// Config is the update that restores the backup's served config.
func (b *Backup) Config() (*serving.EndpointCoreConfigInput, error) {
	e := b.Endpoint
	switch {
	case b.Redacted:
		return nil, fmt.Errorf("backup of %s taken %s: this copy has masked environment variables and cannot restore them; use the workspace copy", e.Name, b.Taken.Format(time.RFC3339))
	case !e.Exists:
		return nil, fmt.Errorf("backup of %s taken %s: the endpoint did not exist then; there is no config to restore", e.Name, b.Taken.Format(time.RFC3339))
	case len(e.ServedEntities) == 0:
		return nil, fmt.Errorf("backup of %s taken %s: the endpoint served nothing then; there is no config to restore", e.Name, b.Taken.Format(time.RFC3339))
	}
	sum := 0
	for _, r := range e.Routes {
		sum += r.TrafficPercentage
	}
	if sum != 100 {
		return nil, fmt.Errorf("backup of %s: its traffic sums to %d%%, not 100%%", e.Name, sum)
	}
	return &serving.EndpointCoreConfigInput{
		Name:           e.Name,
		ServedEntities: append([]Entity(nil), e.ServedEntities...),
		TrafficConfig:  &serving.TrafficConfig{Routes: append([]serving.Route(nil), e.Routes...)},
	}, nil
}

// Backups keeps endpoint backups of one environment in the workspace
// (every machine can restore from there) and a copy under artifacts/.
type Backups struct {
	Env string
	// Store holds the backups every machine shares: workspace.Files (or
	// any release.Store), in Dir, e.g. <root_path>/backups/prod.
	Store release.Store
	Dir   string
	// Local, when set, receives a copy in LocalDir, e.g.
	// release.DirStore{Dir: "artifacts"} and "backups/prod". Environment
	// variable values that are not secret references are masked there.
	Local    release.Store
	LocalDir string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// ErrNoBackup is returned when an environment has no backup.
var ErrNoBackup = errors.New("no endpoint backup")

// BackupInput is the caller's context for a backup.
type BackupInput struct {
	Release     string
	StableModel *ModelRef
	// Record is JSON-encoded into the backup (the release record).
	Record any
}

// EndpointReader reads an endpoint; w.ServingEndpoints is one.
type EndpointReader interface {
	GetByName(ctx context.Context, name string) (*serving.ServingEndpointDetailed, error)
}

// Take snapshots the endpoint and writes the backup to the workspace and
// the local copy, returning it with the workspace path. Any failure is an
// error: no backup, no deploy. A missing endpoint is backed up as such.
func (bs *Backups) Take(ctx context.Context, api EndpointReader, endpoint string, in BackupInput) (*Backup, string, error) {
	if bs.Store == nil || bs.Dir == "" {
		return nil, "", errors.New("backup: no workspace store to write to")
	}
	ep, err := getEndpoint(ctx, api, endpoint)
	if err != nil && !errors.Is(err, ErrEndpointMissing) {
		return nil, "", fmt.Errorf("backup %s: %w", endpoint, err)
	}
	b := &Backup{
		Format: BackupFormat, Env: bs.Env, Release: in.Release, Taken: bs.now(),
		Endpoint: Snapshot(endpoint, ep), StableModel: in.StableModel,
	}
	if in.Record != nil {
		if b.Record, err = json.Marshal(in.Record); err != nil {
			return nil, "", fmt.Errorf("backup %s: encode the release record: %w", endpoint, err)
		}
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("backup %s: %w", endpoint, err)
	}
	name, err := writeNew(ctx, bs.Store, bs.Dir, b.Taken, b.Release, data)
	if err != nil {
		return nil, "", fmt.Errorf("backup %s to the workspace: %w", endpoint, err)
	}
	if bs.Local != nil {
		local := b.masked()
		data, err := json.MarshalIndent(local, "", "  ")
		if err == nil {
			err = bs.Local.Write(ctx, path.Join(bs.LocalDir, path.Base(name)), data, true)
		}
		if err != nil {
			return nil, "", fmt.Errorf("backup %s to %s: %w", endpoint, bs.LocalDir, err)
		}
	}
	return b, name, nil
}

// writeNew writes a file that must not exist yet: a backup is never
// overwritten. Two backups in the same second get a counter after the
// timestamp (".01"), which keeps the names in time order.
func writeNew(ctx context.Context, s release.Store, dir string, taken time.Time, rel string, data []byte) (string, error) {
	for i := 0; i < 100; i++ {
		name := path.Join(dir, backupFile(taken, i, rel))
		err := s.Write(ctx, name, data, false)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, release.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: too many backups in the same second", path.Join(dir, BackupFileName(taken, rel)))
}

var (
	unsafeFile = regexp.MustCompile(`[^A-Za-z0-9._-]+|\.\.+`)
	dashes     = regexp.MustCompile(`-+`)
)

// BackupFileName is <UTC timestamp>-<release>.json, sorting by time.
func BackupFileName(t time.Time, rel string) string { return backupFile(t, 0, rel) }

func backupFile(t time.Time, n int, rel string) string {
	rel = dashes.ReplaceAllString(unsafeFile.ReplaceAllString(rel, "-"), "-")
	rel = strings.Trim(rel, "-.")
	if rel == "" {
		rel = "unreleased"
	}
	stamp := t.UTC().Format("20060102T150405Z")
	if n > 0 {
		stamp += fmt.Sprintf(".%02d", n)
	}
	return stamp + "-" + rel + ".json"
}

// secretRef is a value that names a secret instead of holding it.
var secretRef = regexp.MustCompile(`^\{\{secrets/[^}]+\}\}$`)

// masked is the copy for artifacts: environment variable values other than
// secret references are masked.
func (b *Backup) masked() *Backup {
	c := *b
	c.Endpoint.ServedEntities = make([]Entity, len(b.Endpoint.ServedEntities))
	for i, e := range b.Endpoint.ServedEntities {
		if len(e.EnvironmentVars) > 0 {
			vars := make(map[string]string, len(e.EnvironmentVars))
			for k, v := range e.EnvironmentVars {
				if secretRef.MatchString(v) {
					vars[k] = v
				} else {
					vars[k] = redact.Mask
					c.Redacted = true
				}
			}
			e.EnvironmentVars = vars
		}
		c.Endpoint.ServedEntities[i] = e
	}
	return &c
}

func (bs *Backups) now() time.Time {
	if bs.Now != nil {
		return bs.Now().UTC()
	}
	return time.Now().UTC()
}

// List returns the workspace paths of the environment's backups, oldest
// first.
func (bs *Backups) List(ctx context.Context) ([]string, error) {
	names, err := bs.Store.List(ctx, bs.Dir)
	if err != nil {
		return nil, fmt.Errorf("list backups in %s: %w", bs.Dir, err)
	}
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, ".json") {
			out = append(out, path.Join(bs.Dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Latest returns the newest backup in the workspace and its path.
func (bs *Backups) Latest(ctx context.Context) (*Backup, string, error) {
	paths, err := bs.List(ctx)
	if err != nil {
		return nil, "", err
	}
	if len(paths) == 0 {
		return nil, "", fmt.Errorf("%s: %w in %s", bs.Env, ErrNoBackup, bs.Dir)
	}
	p := paths[len(paths)-1]
	b, err := bs.Load(ctx, p)
	return b, p, err
}

// Load reads one backup from the workspace.
func (bs *Backups) Load(ctx context.Context, name string) (*Backup, error) {
	data, err := bs.Store.Read(ctx, name)
	if errors.Is(err, release.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNoBackup)
	}
	if err != nil {
		return nil, fmt.Errorf("read backup %s: %w", name, err)
	}
	return ParseBackup(data)
}

// ParseBackup decodes a backup file and checks its format.
func ParseBackup(data []byte) (*Backup, error) {
	var b Backup
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if b.Format != BackupFormat {
		return nil, fmt.Errorf("backup: format %d, this version reads %d", b.Format, BackupFormat)
	}
	if b.Endpoint.Name == "" {
		return nil, errors.New("backup: no endpoint name")
	}
	return &b, nil
}
