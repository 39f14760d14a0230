package releasenotes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// DeployedFromRecords reads the release records that deploys copy under
// dir (artifacts/releases/<env>/*.json; the CD workflow gathers every
// environment's reports there) and returns, per environment, the model
// version the newest deploy of tag put there. Environments without a
// record of tag are left out; a missing dir is no deployments.
func DeployedFromRecords(ctx context.Context, dir, tag string) ([]Deployment, error) {
	envs, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release records: %w", err)
	}
	var out []Deployment
	for _, e := range envs {
		if !e.IsDir() {
			continue
		}
		j := &release.Journal{Env: e.Name(), Store: release.DirStore{Dir: dir}, Dir: e.Name()}
		rec, err := j.LatestWhere(ctx, func(r *release.Record) bool {
			return r.Kind == release.KindDeploy && r.Release == tag && r.Model != nil
		})
		if errors.Is(err, release.ErrNoRecord) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s release records: %w", e.Name(), err)
		}
		d := Deployment{Env: rec.Env, Model: rec.Model.Name, Version: rec.Model.Version}
		if rec.Endpoint != nil {
			d.Endpoint = rec.Endpoint.Name
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Env < out[k].Env })
	return out, nil
}

// RecordsDir is where deploys mirror their release records.
func RecordsDir(artifactsDir string) string { return filepath.Join(artifactsDir, "releases") }
