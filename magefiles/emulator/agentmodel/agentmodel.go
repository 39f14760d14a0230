// Package agentmodel is a Go stand-in for the served "human interrupt" agent
// (src/human_interrupt_agent): the same decision rules, the same response
// objects, the same checkpoint encoding. The emulator answers invocations with
// it by default, so a pipeline tested locally sees the shapes the real model
// serves. The cases in tests/integration/cases.json run against both this
// package and the Python model, and a differential test compares the two
// record by record, which keeps them in agreement.
//
// Decision rules (first match wins, case-insensitive substring):
//
//	"delete" | "drop" | "remove" -> delete_records(target=<message>), high risk
//	"refund"                     -> issue_refund(request=<message>), high risk
//	"email" | "send"             -> send_email(request=<message>), high risk
//	anything else                -> search_knowledge_base(query=<message>), low risk
//
// High risk pauses with status "interrupted" and an interrupt carrying a
// question and a checkpoint (base64url JSON of the paused call); a later record
// resumes it with approve, reject or edit. Bad records become status "error"
// with the reason in "result"; nothing here panics on input.
package agentmodel

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Risk levels and resume decisions, as the Python model spells them.
const (
	RiskHigh = "high"
	RiskLow  = "low"

	DecisionApprove = "approve"
	DecisionReject  = "reject"
	DecisionEdit    = "edit"
)

// Statuses of a prediction.
const (
	StatusInterrupted = "interrupted"
	StatusCompleted   = "completed"
	StatusRejected    = "rejected"
	StatusError       = "error"
)

type rule struct {
	keywords []string
	tool     string
	arg      string
}

// rules is the planner, in order: the first rule with a matching keyword wins.
var rules = []rule{
	{[]string{"delete", "drop", "remove"}, "delete_records", "target"},
	{[]string{"refund"}, "issue_refund", "request"},
	{[]string{"email", "send"}, "send_email", "request"},
}

var fallback = rule{nil, "search_knowledge_base", "query"}

// tools lists every tool a checkpoint may name.
var tools = map[string]bool{
	"search_knowledge_base": true,
	"delete_records":        true,
	"issue_refund":          true,
	"send_email":            true,
}

// highRisk holds the tools that wait for a person (the default policy).
var highRisk = map[string]bool{"delete_records": true, "issue_refund": true, "send_email": true}

// Interrupt is a paused run: the question for a person and the checkpoint.
type Interrupt struct {
	Question   string `json:"question"`
	Checkpoint string `json:"checkpoint"`
}

// Prediction is one response object; the field order matches the Python model.
type Prediction struct {
	ThreadID  *string        `json:"thread_id"`
	Status    string         `json:"status"`
	Tool      *string        `json:"tool"`
	ToolArgs  map[string]any `json:"tool_args"`
	Risk      *string        `json:"risk"`
	Interrupt *Interrupt     `json:"interrupt"`
	Result    *string        `json:"result"`
}

// agentError is a request the agent cannot run; it becomes status "error".
type agentError struct{ msg string }

func (e *agentError) Error() string { return e.msg }

func fail(format string, args ...any) error {
	return &agentError{fmt.Sprintf(format, args...)}
}

// Predict answers every record, in order, one prediction per record.
func Predict(records []any) []Prediction {
	out := make([]Prediction, len(records))
	for i, r := range records {
		out[i] = PredictRecord(r)
	}
	return out
}

// PredictRecord answers one record. Records are JSON-decoded values; numbers
// may be json.Number or float64.
func PredictRecord(record any) Prediction {
	rec, ok := record.(map[string]any)
	if !ok {
		return errorPrediction(nil, "each record must be an object")
	}
	var threadID *string
	if v, present := rec["thread_id"]; present && v != nil {
		s := pyStr(v)
		threadID = &s
	}
	p, err := predict(rec, threadID)
	if err != nil {
		return errorPrediction(threadID, err.Error())
	}
	return p
}

func predict(rec map[string]any, threadID *string) (Prediction, error) {
	message, err := textField(rec, "message")
	if err != nil {
		return Prediction{}, err
	}
	resume, err := textField(rec, "resume")
	if err != nil {
		return Prediction{}, err
	}
	if message != nil && resume != nil {
		return Prediction{}, fail(`a record has either "message" or "resume", not both`)
	}
	if resume != nil {
		checkpoint, err := textField(rec, "checkpoint")
		if err != nil {
			return Prediction{}, err
		}
		edited, err := editedArgs(rec["edited_args"])
		if err != nil {
			return Prediction{}, err
		}
		decision := strings.ToLower(strings.TrimSpace(*resume))
		return resumeRun(checkpoint, decision, edited, threadID)
	}
	if message != nil {
		return invoke(threadID, *message), nil
	}
	return Prediction{}, fail(`a record needs a "message" (new request) or a "resume" decision`)
}

// textField returns a string field, nil when absent, null or blank.
func textField(rec map[string]any, name string) (*string, error) {
	v, ok := rec[name]
	if !ok || v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fail(`"%s" must be a string, got %s`, name, pyTypeName(v))
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return &s, nil
}

// editedArgs accepts an object or an object encoded as a JSON string.
func editedArgs(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		var decoded any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&decoded); err != nil {
			return nil, fail(`"edited_args" is not valid JSON: %v`, err)
		}
		v = decoded
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fail(`"edited_args" must be an object with string keys`)
	}
	return m, nil
}

// Plan picks the tool call and risk for a message.
func Plan(message string) (tool string, args map[string]any, risk string) {
	lowered := strings.ToLower(message)
	chosen := fallback
	for _, r := range rules {
		if containsAny(lowered, r.keywords) {
			chosen = r
			break
		}
	}
	risk = RiskLow
	if highRisk[chosen.tool] {
		risk = RiskHigh
	}
	return chosen.tool, map[string]any{chosen.arg: message}, risk
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func invoke(threadID *string, message string) Prediction {
	tool, args, risk := Plan(message)
	p := Prediction{ThreadID: threadID, Tool: ptr(tool), ToolArgs: args, Risk: ptr(risk)}
	if risk == RiskLow {
		p.Status = StatusCompleted
		p.Result = ptr(runTool(tool, args))
		return p
	}
	p.Status = StatusInterrupted
	p.Interrupt = &Interrupt{
		Question:   "Approve " + renderCall(tool, args) + "?",
		Checkpoint: EncodeCheckpoint(threadID, tool, args, risk),
	}
	return p
}

func resumeRun(checkpoint *string, decision string, edited map[string]any, threadID *string) (Prediction, error) {
	if decision != DecisionApprove && decision != DecisionReject && decision != DecisionEdit {
		return Prediction{}, fail("unknown resume value %s; use approve, reject or edit", pyRepr(decision))
	}
	cp, err := DecodeCheckpoint(checkpoint)
	if err != nil {
		return Prediction{}, err
	}
	if threadID != nil && cp.ThreadID != nil && *cp.ThreadID != *threadID {
		return Prediction{}, fail("checkpoint belongs to thread %s, not %s", pyRepr(*cp.ThreadID), pyRepr(*threadID))
	}
	if decision == DecisionEdit && len(edited) == 0 {
		return Prediction{}, fail("resume edit needs a non-empty edited_args object")
	}
	p := Prediction{ThreadID: cp.ThreadID, Tool: ptr(cp.Tool), ToolArgs: cp.ToolArgs, Risk: ptr(cp.Risk)}
	switch decision {
	case DecisionReject:
		p.Status = StatusRejected
		return p, nil
	case DecisionEdit:
		p.ToolArgs = edited
	}
	p.Status = StatusCompleted
	p.Result = ptr(runTool(cp.Tool, p.ToolArgs))
	return p, nil
}

// Checkpoint is the paused state a checkpoint carries.
type Checkpoint struct {
	ThreadID *string
	Tool     string
	ToolArgs map[string]any
	Risk     string
}

// EncodeCheckpoint serialises a paused call exactly as the Python model does:
// compact JSON with sorted keys and ASCII-only escapes, base64url with padding.
func EncodeCheckpoint(threadID *string, tool string, args map[string]any, risk string) string {
	var tid any
	if threadID != nil {
		tid = *threadID
	}
	payload := map[string]any{"thread_id": tid, "tool": tool, "tool_args": args, "risk": risk}
	return base64.URLEncoding.EncodeToString([]byte(pyJSON(payload)))
}

// DecodeCheckpoint parses and validates a checkpoint; a nil or blank one is an error.
func DecodeCheckpoint(checkpoint *string) (Checkpoint, error) {
	if checkpoint == nil || strings.TrimSpace(*checkpoint) == "" {
		return Checkpoint{}, fail("resume needs the checkpoint returned with the interrupt")
	}
	text := strings.TrimRight(strings.TrimSpace(*checkpoint), "=")
	// Python translates -_ to +/ and then validates the standard alphabet, so
	// both alphabets decode; mirror that.
	text = strings.NewReplacer("-", "+", "_", "/").Replace(text)
	raw, err := base64.RawStdEncoding.DecodeString(text)
	if err != nil {
		return Checkpoint{}, fail("checkpoint is not valid base64url JSON: %v", err)
	}
	var payload any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&payload); err != nil {
		return Checkpoint{}, fail("checkpoint is not valid base64url JSON: %v", err)
	}
	obj, ok := payload.(map[string]any)
	if !ok {
		return Checkpoint{}, fail("checkpoint must encode a JSON object")
	}
	var cp Checkpoint
	switch tid := obj["thread_id"].(type) {
	case nil:
	case string:
		cp.ThreadID = &tid
	default:
		return Checkpoint{}, fail("checkpoint thread_id must be a string")
	}
	tool, ok := obj["tool"].(string)
	if !ok || !tools[tool] {
		return Checkpoint{}, fail("checkpoint names an unknown tool: %s", pyRepr(obj["tool"]))
	}
	cp.Tool = tool
	args, ok := obj["tool_args"].(map[string]any)
	if !ok {
		return Checkpoint{}, fail("checkpoint tool_args must be an object")
	}
	cp.ToolArgs = args
	risk, _ := obj["risk"].(string)
	if risk != RiskHigh && risk != RiskLow {
		return Checkpoint{}, fail("checkpoint risk must be high or low, got %s", pyRepr(obj["risk"]))
	}
	cp.Risk = risk
	return cp, nil
}

// runTool describes what the (side-effect free) tool would do.
func runTool(tool string, args map[string]any) string {
	if tool == "search_knowledge_base" {
		parts := make([]string, 0, len(args))
		for _, k := range sortedKeys(args) {
			parts = append(parts, pyStr(args[k]))
		}
		sum := 0
		for _, b := range []byte(strings.Join(parts, " ")) {
			sum += int(b)
		}
		return fmt.Sprintf("search_knowledge_base: %d documents found", 1+sum%5)
	}
	return fmt.Sprintf("%s: simulated, would run %s", tool, renderCall(tool, args))
}

// renderCall renders tool(key=value, ...) with sorted keys.
func renderCall(tool string, args map[string]any) string {
	parts := make([]string, 0, len(args))
	for _, k := range sortedKeys(args) {
		parts = append(parts, k+"="+pyStr(args[k]))
	}
	return tool + "(" + strings.Join(parts, ", ") + ")"
}

func errorPrediction(threadID *string, msg string) Prediction {
	return Prediction{ThreadID: threadID, Status: StatusError, Result: ptr(msg)}
}

func ptr(s string) *string { return &s }
