package verify

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/agentmodel"
)

// repoCases is the project's real case file.
var repoCases = filepath.Join("..", "..", DefaultCasesPath)

func loadRepoCases(t testing.TB) []Case {
	t.Helper()
	cases, err := LoadCases(repoCases)
	require.NoError(t, err)
	return cases
}

func caseByName(t *testing.T, res SuiteResult, name string) CaseResult {
	t.Helper()
	for _, c := range res.Cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no case %q in %+v", name, res.Cases)
	return CaseResult{}
}

func TestSuiteAllRepoCasesPass(t *testing.T) {
	f, w := newFakeServing(t, faults{})
	cases := loadRepoCases(t)

	res := RunSuite(context.Background(), w.ServingEndpoints, SuiteConfig{Name: "integration", Endpoint: testEndpoint, Cases: cases})

	for _, c := range res.Cases {
		assert.Equal(t, Pass, c.Outcome, "%s: %s", c.Name, c.Message)
		assert.Equal(t, "agent-1", c.ServedModel, c.Name)
	}
	pass, fail, skip := res.Counts()
	assert.Equal(t, []int{len(cases), 0, 0}, []int{pass, fail, skip})

	resumeSteps := 0
	for _, c := range cases {
		if c.Resume != nil {
			resumeSteps++
		}
	}
	invocations, resumes, _ := f.stats()
	assert.Equal(t, len(cases)+resumeSteps, invocations, "one request per case plus one per resume step")
	assert.Equal(t, resumeSteps+1, resumes, "every resume step, plus the garbled-checkpoint case's own request")
	assert.Equal(t, invocations, res.Queries)
}

func TestSuiteResumeStepUsesTheInterruptCheckpoint(t *testing.T) {
	_, w := newFakeServing(t, faults{})
	cases := []Case{
		{
			Name: "approve", Request: map[string]any{"thread_id": "t-1", "message": "delete all records for customer 42"},
			Expect: Expect{Status: StatusInterrupted, Tool: "delete_records", Risk: "high", Interrupt: true},
			Resume: &Resume{Decision: "approve", Expect: ResumeExpect{Status: StatusCompleted, Tool: "delete_records"}},
		},
		{
			Name: "edit", Request: map[string]any{"thread_id": "t-2", "message": "email the report"},
			Expect: Expect{Status: StatusInterrupted, Interrupt: true},
			Resume: &Resume{Decision: "edit", EditedArgs: map[string]any{"request": "email the summary"}, Expect: ResumeExpect{Status: StatusCompleted}},
		},
		{
			Name: "reject", Request: map[string]any{"thread_id": "t-3", "message": "refund order 7"},
			Expect: Expect{Status: StatusInterrupted, Interrupt: true},
			Resume: &Resume{Decision: "reject", Expect: ResumeExpect{Status: StatusRejected}},
		},
	}
	res := RunSuite(context.Background(), w.ServingEndpoints, SuiteConfig{Endpoint: testEndpoint, Cases: cases})
	for _, c := range res.Cases {
		require.Equal(t, Pass, c.Outcome, "%s: %s", c.Name, c.Message)
	}
	assert.Equal(t, []string{StatusInterrupted, StatusCompleted}, res.Cases[0].Statuses)
	assert.Equal(t, []string{StatusInterrupted, StatusRejected}, res.Cases[2].Statuses)
}

func TestSuiteFailures(t *testing.T) {
	approve := Case{
		Name: "delete then approve", Request: map[string]any{"thread_id": "t-1", "message": "delete customer 42"},
		Expect: Expect{Status: StatusInterrupted, Tool: "delete_records", Risk: "high", Interrupt: true},
		Resume: &Resume{Decision: "approve", Expect: ResumeExpect{Status: StatusCompleted}},
	}
	lowRisk := Case{
		Name: "question", Request: map[string]any{"thread_id": "t-2", "message": "what is the return window"},
		Expect: Expect{Status: StatusCompleted, Tool: "search_knowledge_base", Risk: "low"},
	}
	str := func(s string) *string { return &s }

	tests := []struct {
		name       string
		server     faults
		cases      []Case
		failed     string
		contains   []string
		wantResume int // resume requests the server must have seen
	}{
		{
			name: "wrong status names what came back",
			server: faults{mutate: func(p agentmodel.Prediction) agentmodel.Prediction {
				if p.Tool != nil && *p.Tool == "search_knowledge_base" {
					p.Status = "interrupted"
				}
				return p
			}},
			cases:    []Case{lowRisk},
			failed:   "question",
			contains: []string{`request: status "interrupted", want "completed"`, "tool search_knowledge_base", "risk low"},
		},
		{
			name: "wrong tool and risk are both reported",
			server: faults{mutate: func(p agentmodel.Prediction) agentmodel.Prediction {
				p.Tool, p.Risk = str("issue_refund"), str("low")
				return p
			}},
			cases:      []Case{approve},
			failed:     "delete then approve",
			contains:   []string{`tool "issue_refund", want "delete_records"`, `risk "low", want "high"`},
			wantResume: 0,
		},
		{
			name:       "garbled checkpoint fails the resume with the model's reason",
			server:     faults{garble: true},
			cases:      []Case{approve},
			failed:     "delete then approve",
			contains:   []string{`resume approve: status "error", want "completed"`, "checkpoint"},
			wantResume: 1,
		},
		{
			name:       "interrupt without checkpoint is not resumed",
			server:     faults{dropCkpt: true},
			cases:      []Case{approve},
			failed:     "delete then approve",
			contains:   []string{"interrupt has no checkpoint to resume from"},
			wantResume: 0,
		},
		{
			name: "missing interrupt",
			server: faults{mutate: func(p agentmodel.Prediction) agentmodel.Prediction {
				p.Interrupt = nil
				return p
			}},
			cases:    []Case{approve},
			failed:   "delete then approve",
			contains: []string{"no interrupt, want one awaiting approval"},
		},
		{
			name: "thread not echoed",
			server: faults{mutate: func(p agentmodel.Prediction) agentmodel.Prediction {
				p.ThreadID = str("other")
				return p
			}},
			cases:    []Case{lowRisk},
			failed:   "question",
			contains: []string{`thread_id "other", want "t-2"`},
		},
		{
			name: "completed without a result",
			server: faults{mutate: func(p agentmodel.Prediction) agentmodel.Prediction {
				p.Result = nil
				return p
			}},
			cases:    []Case{lowRisk},
			failed:   "question",
			contains: []string{"status completed without a result"},
		},
		{
			name:     "HTTP error names status and code",
			server:   faults{failEvery: 1, failStatus: 500},
			cases:    []Case{lowRisk},
			failed:   "question",
			contains: []string{"request: query agent-dev: HTTP 500 (INTERNAL_ERROR): injected failure"},
		},
		{
			name:   "a failed case does not stop the next",
			server: faults{failEvery: 1, failStatus: 500},
			cases: []Case{lowRisk, {
				Name: "second", Request: map[string]any{"message": "hello"},
				Expect: Expect{Status: StatusCompleted},
			}},
			failed:   "second",
			contains: []string{"HTTP 500"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, w := newFakeServing(t, tt.server)
			res := RunSuite(context.Background(), w.ServingEndpoints, SuiteConfig{Endpoint: testEndpoint, Cases: tt.cases})
			c := caseByName(t, res, tt.failed)
			require.Equal(t, Fail, c.Outcome)
			for _, want := range tt.contains {
				assert.Contains(t, c.Message, want)
			}
			_, resumes, _ := f.stats()
			assert.Equal(t, tt.wantResume, resumes)
		})
	}
}

func TestSuiteUnknownEndpoint(t *testing.T) {
	_, w := newFakeServing(t, faults{})
	res := RunSuite(context.Background(), w.ServingEndpoints, SuiteConfig{Endpoint: "nope", Cases: loadRepoCases(t)[:1]})
	require.Equal(t, Fail, res.Cases[0].Outcome)
	assert.Contains(t, res.Cases[0].Message, "HTTP 404 (RESOURCE_DOES_NOT_EXIST)")
}

func TestSuiteCancelledSkipsTheRest(t *testing.T) {
	f, w := newFakeServing(t, faults{block: true})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.arrived // the first case is in flight
		cancel()
	}()
	cases := loadRepoCases(t)
	res := RunSuite(ctx, w.ServingEndpoints, SuiteConfig{Endpoint: testEndpoint, Cases: cases})
	require.Len(t, res.Cases, len(cases))
	for _, c := range res.Cases {
		assert.Equal(t, Skip, c.Outcome, c.Name)
		assert.Contains(t, c.Message, "cancelled")
	}
	invocations, _, _ := f.stats()
	assert.Equal(t, 1, invocations)
}

func TestSuiteCaseTimeoutIsAFailure(t *testing.T) {
	_, w := newFakeServing(t, faults{block: true})
	res := RunSuite(context.Background(), w.ServingEndpoints, SuiteConfig{Endpoint: testEndpoint, Cases: loadRepoCases(t)[:1], CaseTimeout: 50_000_000})
	require.Equal(t, Fail, res.Cases[0].Outcome)
	assert.Contains(t, res.Cases[0].Message, "case timeout 50ms")
}
