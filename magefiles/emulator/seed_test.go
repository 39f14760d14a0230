package emulator

import (
	"fmt"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MLflow run ids, registered model ids and endpoint ids are drawn, in the
// order they are made, from one seeded generator, which traffic routing
// draws from too. A seed replays the same ids whichever service makes them.
func TestSeedReplaysIDsAcrossServices(t *testing.T) {
	tests := []struct {
		seed uint64
		want []string
	}{
		{seed: 0, want: []string{ // the default seed
			"7a4584021fd5190f2204c1073172d86b", "22a71b13a62ec8867d8101bac69cebab", "c0eb37299596e87dbad580a92ccfd41b",
			"88bf8b7cdda1632a00fd27eb048b47e2", "c8ed404d8995f5f6d5bf7a37ca0b77a0",
		}},
		{seed: 42, want: []string{
			"743a6a4551a9b830f9015ec7f256d640", "b818d59725fa3c01586adcdc37821df6", "d69f5b7842a58bcaf1dd71634b57d222",
			"43126375af1b2eea5df4c7c157a1a555", "a68d89118aa05e70c8820b71859d9422",
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("seed ", tt.seed), func(t *testing.T) {
			srv, w := start(t, Options{Seed: tt.seed})
			c := ctx(t)
			_, seededRun, err := srv.SeedModelVersion("agent") // a run, then the model's id
			require.NoError(t, err)
			exp, err := w.Experiments.CreateExperiment(c, ml.CreateExperiment{Name: "/Shared/exp"})
			require.NoError(t, err)
			manual, err := w.Experiments.CreateRun(c, ml.CreateRun{ExperimentId: exp.ExperimentId})
			require.NoError(t, err)
			ep, err := createEndpointAndWait(c, w, serving.CreateServingEndpoint{Name: "ep", Config: ptrTo(served("ep", "agent", []string{"1"}, nil))})
			require.NoError(t, err)
			_, err = query(t, w, "ep", map[string]any{"message": "hi"}) // a routing draw
			require.NoError(t, err)
			job, err := w.Jobs.Create(c, trainJob("agent-train", "agent"))
			require.NoError(t, err)
			run, err := runNowAndWait(c, w, jobs.RunNow{JobId: job.JobId})
			require.NoError(t, err)
			trained, ok := report(t, w, run)["run_id"].(string)
			require.True(t, ok)
			model, err := w.ModelRegistry.GetModel(c, ml.GetModelRequest{Name: "agent"})
			require.NoError(t, err)

			got := []string{seededRun, model.RegisteredModelDatabricks.Id, manual.Run.Info.RunId, ep.Id, trained}
			assert.Equal(t, tt.want, got)
		})
	}
}
