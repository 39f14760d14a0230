package contract

import (
	"net/http"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// The bundle's experiments are deployed by looking each one up by name and
// creating it when the lookup says it does not exist, so both answers are
// contract:
//   - get-by-name of a missing experiment: "Throws RESOURCE_DOES_NOT_EXIST
//     if no experiment with the specified name exists" (databricks-sdk-go
//     service/ml/interface.go, ExperimentsService.GetByName; MLflow's REST
//     store reads that code as "no such experiment"). The wording "Could not
//     find experiment with name <name>" is MLflow tracking server's
//     (mlflow/server/auth); no Databricks response quoting it was found, so
//     the test holds the prefix only.
//   - create with a name in use: "Throws RESOURCE_ALREADY_EXISTS if an
//     experiment with the given name exists" (same file, CreateExperiment).
//
// The SDK maps each code to its sentinel error whatever the status
// (apierr/error_mapping.go), and the deploy tests the sentinel; the 404 of
// the lookup is the status the SDK's mapping gives RESOURCE_DOES_NOT_EXIST.
// No public record shows the status of the duplicate create, so only its
// code is held.
func TestExperimentsByName(t *testing.T) {
	ws := startUC(t, emulator.Options{})
	c := testCtx(t)
	name := "/Users/" + ws.srv.UserName() + "/contract-experiment"

	_, err := ws.w.Experiments.GetByName(c, ml.GetByNameRequest{ExperimentName: name})
	require.ErrorIs(t, err, apierr.ErrResourceDoesNotExist)
	var aerr *apierr.APIError
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, http.StatusNotFound, aerr.StatusCode)
	assert.Contains(t, aerr.Message, "Could not find experiment with name")

	created, err := ws.w.Experiments.CreateExperiment(c, ml.CreateExperiment{Name: name})
	require.NoError(t, err)
	got, err := ws.w.Experiments.GetByName(c, ml.GetByNameRequest{ExperimentName: name})
	require.NoError(t, err)
	assert.Equal(t, created.ExperimentId, got.Experiment.ExperimentId)
	assert.Equal(t, "active", got.Experiment.LifecycleStage)

	_, err = ws.w.Experiments.CreateExperiment(c, ml.CreateExperiment{Name: name})
	require.ErrorIs(t, err, apierr.ErrResourceAlreadyExists)
}
