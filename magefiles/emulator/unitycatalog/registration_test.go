package unitycatalog

import (
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

const owner, other = "dev@example.com", "staging@example.com"

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// metastore holds dev.s.m owned by owner and staging.s.m owned by other,
// with other granted read on dev's catalog.
func metastore(t *testing.T, opts Options) *Metastore {
	t.Helper()
	opts.Clock = fixedClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := New(opts)
	for _, env := range []struct{ cat, principal string }{{"dev", owner}, {"staging", other}} {
		require.NoError(t, m.CreateCatalog(env.principal, env.cat))
		require.NoError(t, m.CreateSchema(env.principal, env.cat, "s"))
		_, aerr := m.CreateModel(env.principal, catalog.CreateRegisteredModelRequest{CatalogName: env.cat, SchemaName: "s", Name: "m"})
		require.Nil(t, aerr)
	}
	require.NoError(t, m.Grant(catalog.SecurableTypeCatalog, "dev", other, catalog.PrivilegeUseCatalog, catalog.PrivilegeUseSchema, catalog.PrivilegeExecute))
	return m
}

func status(t *testing.T, m *Metastore, model string, v int) catalog.ModelVersionInfoStatus {
	t.Helper()
	info, _, ok := m.ModelVersion(model, v)
	require.True(t, ok)
	return info.Status
}

func TestRegistrationSteps(t *testing.T) {
	m := metastore(t, Options{})
	v, err := m.CreateVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/a"})
	require.NoError(t, err)
	assert.Equal(t, catalog.ModelVersionInfoStatusPendingRegistration, v.Status)
	assert.Equal(t, 1, v.Version)

	_, err = m.VersionCredentials(other, "dev.s.m", 1, OperationReadWrite)
	assert.ErrorContains(t, err, "User is not an owner of Routine or Model 'dev.s.m'.")
	_, err = m.VersionCredentials(other, "dev.s.m", 1, OperationRead)
	assert.NoError(t, err, "reading needs only EXECUTE")
	_, err = m.VersionCredentials(owner, "dev.s.m", 1, "WRITE_EVERYTHING")
	assert.ErrorContains(t, err, "Invalid operation")
	c, err := m.VersionCredentials(owner, "dev.s.m", 1, OperationReadWrite)
	require.NoError(t, err)
	assert.NotEmpty(t, c.AWS.SessionToken)

	_, err = m.FinalizeVersion(other, "dev.s.m", 1)
	assert.ErrorContains(t, err, "not an owner")
	assert.Equal(t, catalog.ModelVersionInfoStatusPendingRegistration, status(t, m, "dev.s.m", 1))
	f, err := m.FinalizeVersion(owner, "dev.s.m", 1)
	require.NoError(t, err)
	assert.Equal(t, catalog.ModelVersionInfoStatusReady, f.Status)
	again, err := m.FinalizeVersion(owner, "dev.s.m", 1)
	require.NoError(t, err)
	assert.Equal(t, catalog.ModelVersionInfoStatusReady, again.Status, "finalizing twice changes nothing")
	_, err = m.VersionCredentials(owner, "dev.s.m", 1, OperationReadWrite)
	assert.ErrorContains(t, err, "only be written while it is PENDING_REGISTRATION")
	_, err = m.FinalizeVersion(owner, "dev.s.m", 9)
	assert.ErrorContains(t, err, "Model version 9 of Routine or Model 'dev.s.m' does not exist.")
}

func TestRegisterVersionScripts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  func(m *Metastore)
		status  catalog.ModelVersionInfoStatus
		wantErr string
	}{
		{"finalized", func(*Metastore) {}, catalog.ModelVersionInfoStatusReady, ""},
		{"finalize fails", func(m *Metastore) { m.FailNextRegistration("dev.s.m", "bad files") }, catalog.ModelVersionInfoStatusFailedRegistration, ""},
		{"dies after create", func(m *Metastore) { m.InterruptNextRegistration("dev.s.m", StepCreate) }, catalog.ModelVersionInfoStatusPendingRegistration, "died after the create step"},
		{"dies after credentials", func(m *Metastore) { m.InterruptNextRegistration("dev.s.m", StepCredentials) }, catalog.ModelVersionInfoStatusPendingRegistration, "died after the credentials step"},
		{"dies during the upload", func(m *Metastore) { m.InterruptNextRegistration("DEV.S.M", StepUpload) }, catalog.ModelVersionInfoStatusPendingRegistration, "died after the upload step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metastore(t, Options{})
			tc.script(m)
			v, err := m.RegisterVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/a"})
			if tc.wantErr != "" {
				var ie *InterruptedError
				require.ErrorAs(t, err, &ie)
				assert.Contains(t, err.Error(), tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.status, v.Status)
			assert.Equal(t, tc.status, status(t, m, "dev.s.m", 1), "as a later read shows it")
			next, err := m.RegisterVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/b"})
			require.NoError(t, err, "a script applies to one registration")
			assert.Equal(t, catalog.ModelVersionInfoStatusReady, next.Status)
		})
	}
}

func TestCreateVersionPrivileges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		grant   catalog.Privilege
		wantErr string
	}{
		{"owner only: MANAGE is not enough", Options{}, catalog.PrivilegeManage, "User is not an owner of Routine or Model 'dev.s.m'."},
		{"owner only: CREATE MODEL VERSION is not enough", Options{}, PrivilegeCreateModelVersion, "User is not an owner of Routine or Model 'dev.s.m'."},
		{"version grants: MANAGE is not CREATE MODEL VERSION", Options{ModelVersionGrants: true}, catalog.PrivilegeManage, "User does not have CREATE MODEL VERSION on Routine or Model 'dev.s.m'."},
		{"version grants: CREATE MODEL VERSION", Options{ModelVersionGrants: true}, PrivilegeCreateModelVersion, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metastore(t, tc.opts)
			require.NoError(t, m.Grant(catalog.SecurableTypeFunction, "dev.s.m", other, tc.grant))
			_, err := m.CreateVersion(other, "dev.s.m", NewVersion{Source: "dbfs:/a"})
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.wantErr)
			}
			_, aerr := m.SetAlias(other, "dev.s.m", "champion", 1)
			require.NotNil(t, aerr, "aliases stay the owner's")
			assert.Equal(t, core.CodePermissionDenied, aerr.Code)
		})
	}
}

func TestPromoteReplacesUnfinishedCopies(t *testing.T) {
	m := metastore(t, Options{})
	_, err := m.RegisterVersion(owner, "dev.s.m", NewVersion{Source: "dbfs:/a", RunID: "r1"})
	require.NoError(t, err)
	p := Promotion{SourceModel: "dev.s.m", SourceVersion: "1", TargetModel: "staging.s.m", ReleaseAlias: "release_v1", Release: "v1"}

	m.FailNextRegistration("staging.s.m", "bad files")
	_, err = m.Promote(other, p)
	assert.ErrorContains(t, err, "copy version 1 of staging.s.m is FAILED_REGISTRATION: bad files")
	m.InterruptNextRegistration("staging.s.m", StepUpload)
	_, err = m.Promote(other, p)
	assert.ErrorContains(t, err, "died after the upload step of registering staging.s.m v2")
	assert.Equal(t, catalog.ModelVersionInfoStatusPendingRegistration, status(t, m, "staging.s.m", 2))

	report, err := m.Promote(other, p)
	require.NoError(t, err)
	assert.Equal(t, PromotionReport{ModelName: "staging.s.m", ModelVersion: 3, SourceModel: "dev.s.m", SourceVersion: "1",
		ReleaseAlias: "release_v1", Copied: true, Discarded: []int{2}}, report)
	_, _, ok := m.ModelVersion("staging.s.m", 2)
	assert.False(t, ok, "the unfinished copy is deleted")
	assert.Equal(t, catalog.ModelVersionInfoStatusFailedRegistration, status(t, m, "staging.s.m", 1), "a failed copy is left as evidence")
	copyInfo, _, _ := m.ModelVersion("staging.s.m", 3)
	assert.Equal(t, "r1", copyInfo.RunId, "the copy keeps the run id")
	assert.Equal(t, "models:/dev.s.m/1", copyInfo.Source)

	again, err := m.Promote(other, p)
	require.NoError(t, err)
	assert.Equal(t, 3, again.ModelVersion)
	assert.False(t, again.Copied, "found by its alias")
	assert.Equal(t, map[string]int{"release_v1": 3}, m.Aliases("staging.s.m"))
}
