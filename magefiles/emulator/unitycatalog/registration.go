package unitycatalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/databricks/databricks-sdk-go/service/catalog"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// A version is registered as MLflow's Unity Catalog store registers it
// (mlflow/store/_unity_catalog/registry/rest_store.py, create_model_version):
// model-versions/create answers a PENDING_REGISTRATION version with its
// storage location, the client asks for temporary READ_WRITE credentials,
// uploads the model files there and calls model-versions/finalize, which
// makes the version READY before create_model_version returns. Nothing
// finalizes a version on its own: an upload that dies leaves it PENDING.

// Step is a step of registering a version, after which a scripted
// interruption stops the registering task.
type Step string

// The steps of a registration, in order.
const (
	StepCreate      Step = "create"
	StepCredentials Step = "credentials"
	StepUpload      Step = "upload"
)

// NewVersion is a version to register.
type NewVersion struct {
	Source, RunID, Comment string
	// RunWorkspaceID is the workspace whose MLflow run logged the model.
	RunWorkspaceID int64
	// At is when the version is created; zero is now.
	At time.Time
}

// InterruptedError is a registration whose task died after a step: the
// version stays PENDING_REGISTRATION.
type InterruptedError struct {
	Model   string
	Version int
	After   Step
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("the task died after the %s step of registering %s v%d; the version stays PENDING_REGISTRATION", e.After, e.Model, e.Version)
}

// CreateVersion is model-versions/create: a new version, PENDING_REGISTRATION,
// with the storage location its files are uploaded to. The caller must own
// the model (or, with Options.ModelVersionGrants, hold CREATE MODEL VERSION).
func (m *Metastore) CreateVersion(principal, full string, nv NewVersion) (catalog.ModelVersionInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, aerr := m.create(principal, full, nv)
	if aerr != nil {
		return catalog.ModelVersionInfo{}, aerr
	}
	return v.info, nil
}

// create makes a PENDING_REGISTRATION version. Call with m.mu held.
func (m *Metastore) create(principal, full string, nv NewVersion) (*versionRec, *core.Error) {
	mr, aerr := m.model(full)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := m.canCreateVersion(principal, mr); aerr != nil {
		return nil, aerr
	}
	if strings.TrimSpace(nv.Source) == "" {
		return nil, core.InvalidParam("Model version source must not be empty.")
	}
	at := nv.At
	if at.IsZero() {
		at = m.now()
	}
	mr.next++
	v := &versionRec{info: catalog.ModelVersionInfo{
		ModelName: mr.info.Name, CatalogName: mr.info.CatalogName, SchemaName: mr.info.SchemaName,
		Version: mr.next, Source: nv.Source, RunId: nv.RunID, RunWorkspaceId: int(nv.RunWorkspaceID),
		Comment: nv.Comment, Status: catalog.ModelVersionInfoStatusPendingRegistration,
		CreatedAt: at.UnixMilli(), UpdatedAt: at.UnixMilli(), CreatedBy: principal, UpdatedBy: principal,
		MetastoreId: m.id, Id: m.uuid(),
		StorageLocation: fmt.Sprintf("%s/versions/%d", mr.info.StorageLocation, mr.next),
	}}
	if q := m.scripted[mr.info.FullName]; len(q) > 0 {
		v.outcome, m.scripted[mr.info.FullName] = q[0], q[1:]
	}
	mr.versions = append(mr.versions, v)
	mr.info.UpdatedAt = at.UnixMilli()
	return v, nil
}

// Operation is what temporary credentials allow (MLflow's
// ModelVersionOperation).
type Operation string

// The operations of generate-temporary-credentials.
const (
	OperationRead      Operation = "MODEL_VERSION_OPERATION_READ"
	OperationReadWrite Operation = "MODEL_VERSION_OPERATION_READ_WRITE"
)

// Credentials are temporary credentials for a version's storage location,
// in the shape of MLflow's TemporaryCredentials with aws_temp_credentials.
type Credentials struct {
	AWS        AWSCredentials `json:"aws_temp_credentials"`
	Expiration int64          `json:"expiration_time"`
	// StorageMode CUSTOMER_HOSTED makes MLflow upload to storage_location.
	StorageMode string `json:"storage_mode"`
}

// AWSCredentials are the emulator's stand-in keys: they open nothing.
type AWSCredentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token"`
}

// VersionCredentials is model-versions/generate-temporary-credentials.
// READ_WRITE is for the registering principal while the version is
// PENDING_REGISTRATION ("model version files can only be written at
// creation time", MLflow's databricks_uc_registry_messages.proto); READ is
// for anyone who may read the model.
func (m *Metastore) VersionCredentials(principal, full string, version int, op Operation) (Credentials, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.model(full)
	if aerr != nil {
		return Credentials{}, aerr
	}
	switch op {
	case OperationRead:
		aerr = m.canRead(principal, mr)
	case OperationReadWrite:
		aerr = m.canCreateVersion(principal, mr)
	default:
		aerr = core.InvalidParam("Invalid operation '%s': use MODEL_VERSION_OPERATION_READ or MODEL_VERSION_OPERATION_READ_WRITE.", op)
	}
	if aerr != nil {
		return Credentials{}, aerr
	}
	v := mr.version(version)
	if v == nil {
		return Credentials{}, versionMissing(mr.info.FullName, version)
	}
	if op == OperationReadWrite && v.info.Status != catalog.ModelVersionInfoStatusPendingRegistration {
		// No public source quotes this refusal; the emulator's message is its own.
		return Credentials{}, core.InvalidParam("Model version %d of '%s' is %s: its files can only be written while it is PENDING_REGISTRATION.", version, mr.info.FullName, v.info.Status)
	}
	id := m.uuid()
	return Credentials{
		AWS:        AWSCredentials{AccessKeyID: "emulator-" + id, SecretAccessKey: "emulator-" + m.uuid(), SessionToken: "emulator-" + m.uuid()},
		Expiration: m.now().Add(time.Hour).UnixMilli(), StorageMode: "CUSTOMER_HOSTED",
	}, nil
}

// FinalizeVersion is model-versions/finalize: "updating its status from
// PENDING_REGISTRATION to READY" (rest_store.py, _finalize_model_version),
// or FAILED_REGISTRATION when scripted (FailNextRegistration). A version
// already finalized is returned as it is.
func (m *Metastore) FinalizeVersion(principal, full string, version int) (catalog.ModelVersionInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mr, aerr := m.model(full)
	if aerr != nil {
		return catalog.ModelVersionInfo{}, aerr
	}
	if aerr := m.canCreateVersion(principal, mr); aerr != nil {
		return catalog.ModelVersionInfo{}, aerr
	}
	v := mr.version(version)
	if v == nil {
		return catalog.ModelVersionInfo{}, versionMissing(mr.info.FullName, version)
	}
	m.finalize(v)
	return mr.render(v, false), nil
}

// finalize ends a pending version. Call with m.mu held.
func (m *Metastore) finalize(v *versionRec) {
	if v.info.Status != catalog.ModelVersionInfoStatusPendingRegistration {
		return
	}
	v.info.Status = catalog.ModelVersionInfoStatusReady
	if v.outcome.Fail {
		v.info.Status, v.message = catalog.ModelVersionInfoStatusFailedRegistration, v.outcome.Message
	}
	now := m.now().UnixMilli()
	v.info.UpdatedAt = max(now, v.info.CreatedAt)
}

// RegisterVersion registers a version the whole way, as MLflow's
// create_model_version does and as the emulator's training and promotion
// tasks do: create, credentials, upload, finalize. It returns the version
// as finalize left it: READY, or FAILED_REGISTRATION when scripted
// (MLflow's client returns the finalized version without checking its
// status). A scripted interruption is an *InterruptedError and leaves the
// version PENDING_REGISTRATION.
func (m *Metastore) RegisterVersion(principal, full string, nv NewVersion) (catalog.ModelVersionInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.register(principal, full, nv)
	if v == nil {
		return catalog.ModelVersionInfo{}, err
	}
	return v.info, err
}

// RegisterModel registers a model a training run logged, as MLflow's
// databricks-uc registry does (RegisterVersion): the model must exist. It
// answers with the model's full name and the version, or the error the
// training task prints.
func (m *Metastore) RegisterModel(principal string, l core.LoggedModel) (name, version string, err error) {
	mv, err := m.RegisterVersion(principal, l.Model, NewVersion{
		Source: l.Source, RunID: l.RunID, RunWorkspaceID: l.WorkspaceID, At: l.At,
	})
	if err != nil {
		return "", "", fmt.Errorf("registering the model as %s: %s", l.Model, core.RestException(err))
	}
	return mv.CatalogName + "." + mv.SchemaName + "." + mv.ModelName, strconv.Itoa(mv.Version), nil
}

// register runs a whole registration. Call with m.mu held. The version is
// returned whenever one was created, with the error that stopped it.
func (m *Metastore) register(principal, full string, nv NewVersion) (*versionRec, error) {
	v, aerr := m.create(principal, full, nv)
	if aerr != nil {
		return nil, aerr
	}
	// Credentials and upload need nothing more of the emulator than the
	// version's state: the files are the run's, already in its artifact store.
	for _, step := range []Step{StepCreate, StepCredentials, StepUpload} {
		if v.outcome.Interrupt == step {
			return v, &InterruptedError{Model: norm(full), Version: v.info.Version, After: step}
		}
	}
	m.finalize(v)
	return v, nil
}
