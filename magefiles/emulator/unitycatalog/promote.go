package unitycatalog

import (
	"fmt"
	"strconv"
	"strings"

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
	// Discarded are unfinished copies an interrupted run left, deleted.
	Discarded []int
}

// Fields are the report's JSON fields.
func (r PromotionReport) Fields() map[string]any {
	f := map[string]any{
		"model_name": r.ModelName, "model_version": strconv.Itoa(r.ModelVersion),
		"source_model": r.SourceModel, "source_version": r.SourceVersion,
		"release_alias": r.ReleaseAlias, "copied": r.Copied,
	}
	if len(r.Discarded) > 0 {
		ds := make([]string, len(r.Discarded))
		for i, d := range r.Discarded {
			ds[i] = strconv.Itoa(d)
		}
		f["discarded"] = ds
	}
	return f
}

// CopySource is the source a copied version records: models:/<model>/<version>.
func CopySource(model, version string) string {
	return "models:/" + norm(model) + "/" + version
}

// Promote runs the copy task as principal, idempotently, as
// src/human_interrupt_agent/promote.py does:
//
//  1. when the target already has the release alias, its version is the copy;
//  2. else the newest READY target version whose source is
//     models:/<source>/<version> is the copy (a run killed before it set the
//     alias); PENDING_REGISTRATION versions with that source were left by a
//     run that died mid-upload and nothing will finalize them, so they are
//     deleted (Discarded); FAILED_REGISTRATION ones are left as they are;
//  3. else the source version is copied (keeping its run id) the way MLflow
//     registers a version: create, credentials, upload, finalize;
//  4. the release alias is set on the copy.
//
// The principal must be able to read the source version (USE_CATALOG,
// USE_SCHEMA, EXECUTE) and own the target model; nothing changes
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
	var copyRec *versionRec
	for _, v := range append([]*versionRec(nil), target.versions...) {
		if v.info.Source != source {
			continue
		}
		switch v.info.Status {
		case catalog.ModelVersionInfoStatusReady:
			copyRec = v
		case catalog.ModelVersionInfoStatusPendingRegistration:
			target.deleteVersion(v.info.Version)
			report.Discarded = append(report.Discarded, v.info.Version)
		}
	}
	if copyRec == nil {
		if sv.info.Status != catalog.ModelVersionInfoStatusReady {
			return fail(fmt.Errorf("INVALID_STATE: source version %d of %s is %s, not READY", srcVersion, src.info.FullName, sv.info.Status))
		}
		v, err := m.register(principal, target.info.FullName, NewVersion{
			Source: source, RunID: sv.info.RunId, RunWorkspaceID: int64(sv.info.RunWorkspaceId),
			Comment: fmt.Sprintf("release %s: copy of %s v%s", p.Release, src.info.FullName, p.SourceVersion),
		})
		if err != nil {
			return fail(err)
		}
		if v.info.Status != catalog.ModelVersionInfoStatusReady {
			return fail(fmt.Errorf("copy version %d of %s is %s: %s", v.info.Version, target.info.FullName, v.info.Status, v.message))
		}
		copyRec, report.Copied = v, true
	}
	target.aliases[alias] = copyRec.info.Version
	report.ModelVersion = copyRec.info.Version
	return report, nil
}
