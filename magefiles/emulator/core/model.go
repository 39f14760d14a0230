package core

import "time"

// LoggedModel is a model an MLflow run logged, which a training task
// registers as a new version of Model: in the workspace model registry, or
// in Unity Catalog for a three-level name.
type LoggedModel struct {
	// Model is the registered model's name.
	Model string
	// Source is where the run logged the model's files.
	Source string
	// RunID is the MLflow run that logged it.
	RunID string
	// WorkspaceID is the workspace whose run logged it.
	WorkspaceID int64
	// At is when the version is created.
	At time.Time
}
