package agentmodel

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v))
	return v
}

var checkpointT1 = EncodeCheckpoint(ptr("t-1"), "delete_records", map[string]any{"target": "x"}, RiskHigh)

func TestPlan(t *testing.T) {
	tests := []struct {
		message string
		tool    string
		arg     string
		risk    string
	}{
		{"delete all records for customer 42", "delete_records", "target", RiskHigh},
		{"DROP the table", "delete_records", "target", RiskHigh},
		{"please Remove me", "delete_records", "target", RiskHigh},
		{"refund order 1001", "issue_refund", "request", RiskHigh},
		{"email the report", "send_email", "request", RiskHigh},
		{"send it", "send_email", "request", RiskHigh},
		{"drop the old table and email the team", "delete_records", "target", RiskHigh},
		{"what are the support hours", "search_knowledge_base", "query", RiskLow},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			tool, args, risk := Plan(tt.message)
			assert.Equal(t, tt.tool, tool)
			assert.Equal(t, map[string]any{tt.arg: tt.message}, args)
			assert.Equal(t, tt.risk, risk)
		})
	}
}

func TestPredictRecordHappyPaths(t *testing.T) {
	low := PredictRecord(decode(t, `{"thread_id":"a","message":"how do I log in"}`))
	assert.Equal(t, StatusCompleted, low.Status)
	assert.Nil(t, low.Interrupt)
	require.NotNil(t, low.Result)
	assert.Contains(t, *low.Result, "search_knowledge_base: ")

	high := PredictRecord(decode(t, `{"thread_id":"t-1","message":"delete x"}`))
	assert.Equal(t, StatusInterrupted, high.Status)
	require.NotNil(t, high.Interrupt)
	assert.Equal(t, "Approve delete_records(target=delete x)?", high.Interrupt.Question)
	assert.Nil(t, high.Result)

	approve := PredictRecord(map[string]any{"thread_id": "t-1", "resume": " Approve ", "checkpoint": high.Interrupt.Checkpoint})
	assert.Equal(t, StatusCompleted, approve.Status)
	assert.Equal(t, "delete_records: simulated, would run delete_records(target=delete x)", *approve.Result)

	reject := PredictRecord(map[string]any{"resume": "reject", "checkpoint": high.Interrupt.Checkpoint})
	assert.Equal(t, StatusRejected, reject.Status)
	assert.Nil(t, reject.Result)
	assert.Equal(t, "t-1", *reject.ThreadID, "thread comes from the checkpoint")

	edit := PredictRecord(map[string]any{"resume": "edit", "checkpoint": high.Interrupt.Checkpoint, "edited_args": `{"target": "y"}`})
	assert.Equal(t, StatusCompleted, edit.Status)
	assert.Equal(t, map[string]any{"target": "y"}, edit.ToolArgs)
}

func TestPredictRecordErrors(t *testing.T) {
	tests := []struct {
		name   string
		record any
		want   string
	}{
		{"not an object", "delete everything", "each record must be an object"},
		{"empty", map[string]any{}, `needs a "message"`},
		{"blank message", map[string]any{"message": "  "}, `needs a "message"`},
		{"numeric message", decode(t, `{"message":5}`), `"message" must be a string, got int`},
		{"both", map[string]any{"message": "x", "resume": "approve"}, "not both"},
		{"no checkpoint", map[string]any{"resume": "approve"}, "needs the checkpoint"},
		{"garbled checkpoint", map[string]any{"resume": "approve", "checkpoint": "%%%"}, "not valid base64url"},
		{"not json", map[string]any{"resume": "approve", "checkpoint": "bm90LWpzb24"}, "not valid base64url JSON"},
		{"json array", map[string]any{"resume": "approve", "checkpoint": "WzFd"}, "must encode a JSON object"},
		{"unknown decision", map[string]any{"resume": "sure", "checkpoint": checkpointT1}, "unknown resume value 'sure'"},
		{"bad edited json", map[string]any{"resume": "edit", "checkpoint": checkpointT1, "edited_args": "{"}, "not valid JSON"},
		{"edited list", map[string]any{"resume": "edit", "checkpoint": checkpointT1, "edited_args": []any{1}}, "string keys"},
		{"edit without args", map[string]any{"resume": "edit", "checkpoint": checkpointT1}, "non-empty edited_args"},
		{"other thread", map[string]any{"thread_id": "d", "resume": "approve", "checkpoint": checkpointT1}, "checkpoint belongs to thread 't-1', not 'd'"},
		{"unknown tool", map[string]any{"resume": "approve", "checkpoint": EncodeCheckpoint(nil, "rm_rf", map[string]any{}, RiskHigh)}, "unknown tool: 'rm_rf'"},
		{"bad risk", map[string]any{"resume": "approve", "checkpoint": EncodeCheckpoint(nil, "send_email", map[string]any{}, "medium")}, "risk must be high or low, got 'medium'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PredictRecord(tt.record)
			assert.Equal(t, StatusError, p.Status)
			require.NotNil(t, p.Result)
			assert.Contains(t, *p.Result, tt.want)
			assert.Nil(t, p.Interrupt)
		})
	}
}

func TestNumericThreadIDIsText(t *testing.T) {
	p := PredictRecord(decode(t, `{"thread_id":12,"message":"hi"}`))
	assert.Equal(t, "12", *p.ThreadID)
}

func TestCheckpointRoundTrip(t *testing.T) {
	cp := EncodeCheckpoint(ptr("t-9"), "issue_refund", map[string]any{"request": "refund \"é\" <1>"}, RiskHigh)
	got, err := DecodeCheckpoint(&cp)
	require.NoError(t, err)
	assert.Equal(t, "t-9", *got.ThreadID)
	assert.Equal(t, "issue_refund", got.Tool)
	assert.Equal(t, map[string]any{"request": "refund \"é\" <1>"}, got.ToolArgs)
	unpadded := strings.TrimRight(cp, "=")
	_, err = DecodeCheckpoint(&unpadded)
	assert.NoError(t, err, "unpadded checkpoints decode too")
}

func TestPythonReprHelpers(t *testing.T) {
	assert.Equal(t, "1.0", pyFloat(1))
	assert.Equal(t, "1e+16", pyFloat(1e16))
	assert.Equal(t, "1.5e-05", pyFloat(1.5e-5))
	assert.Equal(t, "0.0001", pyFloat(1e-4))
	assert.Equal(t, `"it's"`, pyQuote("it's"))
	assert.Equal(t, `'a\nb'`, pyQuote("a\nb"))
	assert.Equal(t, `{"a":[1,2.5,true,null],"b":"\u00e9\ud83d\ude00"}`, pyJSON(decode(t, `{"b":"é😀","a":[1,2.5,true,null]}`)))
	assert.Equal(t, "{'k': [1, 'x', None]}", pyRepr(decode(t, `{"k":[1,"x",null]}`)))
}

// repoRoot finds the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found above the test")
		dir = parent
	}
}

type integrationCase struct {
	Name    string         `json:"name"`
	Request map[string]any `json:"request"`
	Expect  map[string]any `json:"expect"`
	Resume  *struct {
		Decision   string         `json:"decision"`
		EditedArgs map[string]any `json:"edited_args"`
		Expect     map[string]any `json:"expect"`
	} `json:"resume"`
}

func checkExpect(t *testing.T, p Prediction, expect map[string]any) {
	t.Helper()
	for key, want := range expect {
		switch key {
		case "status":
			assert.Equal(t, want, p.Status, "status")
		case "tool":
			require.NotNil(t, p.Tool, "tool")
			assert.Equal(t, want, *p.Tool, "tool")
		case "risk":
			require.NotNil(t, p.Risk, "risk")
			assert.Equal(t, want, *p.Risk, "risk")
		case "interrupt":
			assert.Equal(t, want, p.Interrupt != nil, "interrupt present")
		default:
			t.Errorf("unknown expectation %q", key)
		}
	}
}

// TestIntegrationCases runs tests/integration/cases.json, the cases the verify
// stage also runs against the real endpoint.
func TestIntegrationCases(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "tests", "integration", "cases.json"))
	require.NoError(t, err)
	var file struct {
		Cases []integrationCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(raw, &file))
	require.NotEmpty(t, file.Cases)
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			first := PredictRecord(c.Request)
			checkExpect(t, first, c.Expect)
			if c.Resume == nil {
				return
			}
			require.NotNil(t, first.Interrupt, "a resumed case must be interrupted first")
			record := map[string]any{
				"thread_id":  c.Request["thread_id"],
				"resume":     c.Resume.Decision,
				"checkpoint": first.Interrupt.Checkpoint,
			}
			if c.Resume.EditedArgs != nil {
				record["edited_args"] = c.Resume.EditedArgs
			}
			checkExpect(t, PredictRecord(record), c.Resume.Expect)
		})
	}
}

// differentialRecords exercise every branch, including quoting and unicode.
const differentialRecords = `[
 {"thread_id": "a", "message": "how do I reset my password"},
 {"thread_id": "b", "message": "delete all records for customer 42"},
 {"thread_id": "c", "message": "Refund order 1001 in full"},
 {"thread_id": "d", "message": "email the report to 'finance' \"now\""},
 {"thread_id": "e", "message": "send café menu ☕ to the team 😀"},
 {"thread_id": "f", "message": "drop the old table and email the team"},
 {"thread_id": 12, "message": "what's new"},
 {"thread_id": "g"},
 {"message": "   "},
 {"message": 5},
 {"message": "x", "resume": "approve"},
 {"resume": "approve"},
 {"resume": "approve", "checkpoint": "%%%"},
 {"resume": "approve", "checkpoint": "WzFd"},
 "not a record",
 {"thread_id": "t-1", "resume": " Approve ", "checkpoint": "CP"},
 {"thread_id": "t-1", "resume": "reject", "checkpoint": "CP"},
 {"thread_id": "zz", "resume": "reject", "checkpoint": "CP"},
 {"resume": "edit", "checkpoint": "CP", "edited_args": {"target": "y", "n": 1, "f": 2.5, "ok": true, "l": [1, "a", null]}},
 {"resume": "edit", "checkpoint": "CP", "edited_args": "{\"target\": \"z\"}"},
 {"resume": "edit", "checkpoint": "CP", "edited_args": "{"},
 {"resume": "edit", "checkpoint": "CP", "edited_args": [1]},
 {"resume": "edit", "checkpoint": "CP"},
 {"resume": "sure", "checkpoint": "CP"},
 {"resume": "approve", "checkpoint": "LOWCP"}
]`

const pythonPredict = `
import json, sys
from human_interrupt_agent.model import InterruptAgentModel
records = json.load(sys.stdin)
json.dump(InterruptAgentModel().predict(None, records), sys.stdout)
`

// TestAgreesWithPythonModel feeds the same records to the Python model and to
// this package and requires identical JSON, checkpoints and strings included.
func TestAgreesWithPythonModel(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("skipped: python3 is not on PATH, cannot compare with the Python model")
	}
	root := repoRoot(t)
	lowCP := EncodeCheckpoint(nil, "search_knowledge_base", map[string]any{"query": "docs"}, RiskLow)
	input := strings.NewReplacer(`"CP"`, `"`+checkpointT1+`"`, `"LOWCP"`, `"`+lowCP+`"`).Replace(differentialRecords)

	cmd := exec.Command(python, "-c", pythonPredict)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(root, "src"))
	cmd.Stdin = strings.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "python model: %s", stderr.String())

	want, ok := decode(t, string(out)).([]any)
	require.True(t, ok)
	records, ok := decode(t, input).([]any)
	require.True(t, ok)
	gotJSON, err := json.Marshal(Predict(records))
	require.NoError(t, err)
	got, ok := decode(t, string(gotJSON)).([]any)
	require.True(t, ok)
	require.Len(t, got, len(want))
	for i := range want {
		normalizeParserDetail(want[i])
		normalizeParserDetail(got[i])
		wantRec, _ := json.Marshal(want[i])
		gotRec, _ := json.Marshal(got[i])
		assert.JSONEq(t, string(wantRec), string(gotRec), "record %d: %v", i, records[i])
	}
}

// normalizeParserDetail drops what the base64 and JSON parsers add after our
// own message: those libraries word their errors differently in each language.
func normalizeParserDetail(prediction any) {
	p, ok := prediction.(map[string]any)
	if !ok {
		return
	}
	result, _ := p["result"].(string)
	for _, marker := range []string{"valid base64url JSON: ", "is not valid JSON: "} {
		if before, _, found := strings.Cut(result, marker); found {
			p["result"] = before + marker + "<parser detail>"
		}
	}
}

func BenchmarkPredictRecord(b *testing.B) {
	record := map[string]any{"thread_id": "t", "message": "delete all records for customer 42"}
	for b.Loop() {
		PredictRecord(record)
	}
}
