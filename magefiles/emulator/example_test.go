package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/serving"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator"
)

// A release against the emulator: train, serve, then canary a bad version
// whose errors show in the metrics.
func Example() {
	srv, err := emulator.Start(emulator.Options{LegacyRegistry: true}) // free port, instant state machines, the workspace registry
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	w, err := databricks.NewWorkspaceClient(srv.Config()) // PAT: srv.URL() + srv.Token()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// Training registers version 1 (and a second run version 2).
	job, _ := w.Jobs.Create(ctx, jobs.CreateJob{Name: "agent-train", Tasks: []jobs.Task{{
		TaskKey:         "train",
		SparkPythonTask: &jobs.SparkPythonTask{PythonFile: "/Shared/train.py", Parameters: []string{"--model-name", "agent"}},
	}}})
	for range 2 {
		wait, _ := w.Jobs.RunNow(ctx, jobs.RunNow{JobId: job.JobId})
		run, _ := wait.Get()
		fmt.Println("training:", run.State.ResultState)
	}

	// Version 2 is bad: its model raises on every request (a 400, as on
	// the service).
	srv.SetVersionBehavior("agent", "2", emulator.Behavior{ErrorRate: 1})

	create, _ := w.ServingEndpoints.Create(ctx, serving.CreateServingEndpoint{Name: "agent-prod", Config: &serving.EndpointCoreConfigInput{
		ServedEntities: []serving.ServedEntityInput{{EntityName: "agent", EntityVersion: "1", WorkloadSize: "Small", ScaleToZeroEnabled: true}},
	}})
	if _, err := create.Get(); err != nil {
		log.Fatal(err)
	}
	canary, _ := w.ServingEndpoints.UpdateConfig(ctx, serving.EndpointCoreConfigInput{
		Name: "agent-prod",
		ServedEntities: []serving.ServedEntityInput{
			{EntityName: "agent", EntityVersion: "1", WorkloadSize: "Small", ScaleToZeroEnabled: true},
			{EntityName: "agent", EntityVersion: "2", WorkloadSize: "Small", ScaleToZeroEnabled: true},
		},
		TrafficConfig: &serving.TrafficConfig{Routes: []serving.Route{
			{ServedEntityName: "agent-1", TrafficPercentage: 90},
			{ServedEntityName: "agent-2", TrafficPercentage: 10},
		}},
	})
	if _, err := canary.Get(); err != nil {
		log.Fatal(err)
	}
	for range 200 {
		_, err := w.ServingEndpoints.Query(ctx, serving.QueryEndpointInput{Name: "agent-prod",
			DataframeRecords: []any{map[string]any{"thread_id": "t", "message": "refund order 7"}}})
		if err != nil && !errors400(err) {
			log.Fatal(err)
		}
	}
	stats := srv.EntityStats("agent-prod")
	fmt.Println("canary all failed:", stats["agent-2"].Requests > 0 && stats["agent-2"].Status4xx == stats["agent-2"].Requests)
	fmt.Println("stable all served:", stats["agent-1"].Status4xx == 0)
	fmt.Println("mutations:", len(srv.MutatingRequests()))
	// Output:
	// training: SUCCESS
	// training: SUCCESS
	// canary all failed: true
	// stable all served: true
	// mutations: 5
}

func errors400(err error) bool {
	var ae *apierr.APIError
	ok := errors.As(err, &ae)
	return ok && ae.StatusCode == 400
}
