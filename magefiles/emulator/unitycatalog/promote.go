package unitycatalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/catalog"
)

// Promotion is one run of the promotion job's copy task
// (src/promote_job.py): copy a source version into the target model and
// point the release alias at the copy.
type Promotion struct {
	SourceModel   string
	SourceVersion string
	TargetModel   string
	ReleaseAlias  string
	Release       string
}

// PromotionReport is what the task prints as the last line of its logs.
type PromotionReport struct {
	ModelName     string
	ModelVersion  int
	SourceModel   string
	SourceVersion string
	ReleaseAlias  string
	Copied        bool
}

// Fields are the report's JSON fields.
func (r PromotionReport) Fields() map[string]any {
	return map[string]any{
		"model_name": r.ModelName, "model_version": strconv.Itoa(r.ModelVersion),
		"source_model": r.SourceModel, "source_version": r.SourceVersion,
		"release_alias": r.ReleaseAlias, "copied": r.Copied,
	}
}

// CopySource is the source a copied version records: models:/<model>/<version>.
func CopySource(model, version string) string {
	return "models:/" + norm(model) + "/" + version
}

// Promote runs the copy task as principal at now, idempotently:
//
//  1. when the target already has the release alias, its version is the copy;
//  2. else a target version whose source is models:/<source>/<version> is
//     the copy (a run killed before it set the alias);
//  3. else the source version is copied (keeping its run id) and the task
//     waits for the copy to be READY;
//  4. the release alias is set on the copy.
//
// The principal must be able to read the source version (USE_CATALOG,
// USE_SCHEMA, EXECUTE) and manage the target model; nothing changes
// otherwise. An error is what the task prints before it fails.
func (m *Metastore) Promote(principal string, p Promotion) (PromotionReport, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fail := func(err error) (PromotionReport, error) {
		return PromotionReport{}, fmt.Errorf("promote %s v%s to %s: %w", p.SourceModel, p.SourceVersion, p.TargetModel, err)
	}
	if aerr := checkAlias(p.ReleaseAlias); aerr != nil {
		return fail(aerr)
	}
	srcVersion, err := strconv.Atoi(p.SourceVersion)
	if err != nil || srcVersion <= 0 {
		return fail(fmt.Errorf("INVALID_PARAMETER_VALUE: source version %q is not a version number", p.SourceVersion))
	}
	src, aerr := m.readable(principal, p.SourceModel)
	if aerr != nil {
		return fail(aerr)
	}
	sv := src.version(srcVersion)
	if sv == nil {
		return fail(versionMissing(src.info.FullName, srcVersion))
	}
	m.settle(sv)
	target, aerr := m.manageable(principal, p.TargetModel)
	if aerr != nil {
		return fail(aerr)
	}
	alias := strings.ToLower(p.ReleaseAlias)
	report := PromotionReport{
		ModelName: target.info.FullName, SourceModel: src.info.FullName,
		SourceVersion: p.SourceVersion, ReleaseAlias: alias,
	}
	if n, ok := target.aliases[alias]; ok {
		report.ModelVersion = n
		return report, nil
	}
	source := CopySource(src.info.FullName, p.SourceVersion)
	copyRec := (*versionRec)(nil)
	for _, v := range target.versions {
		if v.info.Source == source {
			copyRec = v
		}
	}
	if copyRec == nil {
		if sv.info.Status != catalog.ModelVersionInfoStatusReady {
			return fail(fmt.Errorf("INVALID_STATE: source version %d of %s is %s, not READY", srcVersion, src.info.FullName, sv.info.Status))
		}
		// The task waits for READY; the copy started a registration time ago.
		nv := NewVersion{
			Source: source, RunID: sv.info.RunId, RunWorkspaceID: int64(sv.info.RunWorkspaceId),
			Comment: fmt.Sprintf("release %s: copy of %s v%s", p.Release, src.info.FullName, p.SourceVersion),
			At:      m.now().Add(-time.Duration(float64(m.registration) * m.scale)),
		}
		v, aerr := m.register(principal, target.info.FullName, nv)
		if aerr != nil {
			return fail(aerr)
		}
		copyRec, report.Copied = v, true
	}
	m.settle(copyRec)
	switch copyRec.info.Status {
	case catalog.ModelVersionInfoStatusReady:
	case catalog.ModelVersionInfoStatusFailedRegistration:
		return fail(fmt.Errorf("copy version %d of %s failed registration: %s", copyRec.info.Version, target.info.FullName, copyRec.message))
	default:
		return fail(fmt.Errorf("timed out waiting for copy version %d of %s to become READY (status %s)", copyRec.info.Version, target.info.FullName, copyRec.info.Status))
	}
	target.aliases[alias] = copyRec.info.Version
	report.ModelVersion = copyRec.info.Version
	return report, nil
}
