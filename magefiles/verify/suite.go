package verify

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Outcome of one case or check.
type Outcome string

const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	Skip Outcome = "skip"
)

// SuiteConfig says which cases to run against which endpoint.
type SuiteConfig struct {
	// Name labels the suite in reports: "integration" or "smoke".
	Name     string
	Endpoint string
	Cases    []Case
	// CaseTimeout bounds each case (both its steps); 0 leaves only the
	// SDK's own request timeout.
	CaseTimeout time.Duration
}

// SuiteResult is what the suite found.
type SuiteResult struct {
	Name     string
	Endpoint string
	Cases    []CaseResult
	Duration time.Duration
	// Queries counts the requests the endpoint answered (with a prediction
	// or an HTTP error), for the metrics check.
	Queries int
}

// CaseResult is one case's outcome.
type CaseResult struct {
	Name     string
	Smoke    bool
	Outcome  Outcome
	Duration time.Duration
	// Message says what did not match (fail) or why the case did not run
	// (skip); empty on pass.
	Message string
	// Statuses are the statuses seen, request first, then the resume.
	Statuses []string
	// ServedModel is the served model that answered the first request.
	ServedModel string
}

// Counts returns how many cases passed, failed and were skipped.
func (s SuiteResult) Counts() (pass, fail, skip int) {
	for _, c := range s.Cases {
		switch c.Outcome {
		case Pass:
			pass++
		case Fail:
			fail++
		case Skip:
			skip++
		}
	}
	return pass, fail, skip
}

// Failed lists the names of failed cases.
func (s SuiteResult) Failed() []string {
	var out []string
	for _, c := range s.Cases {
		if c.Outcome == Fail {
			out = append(out, c.Name)
		}
	}
	return out
}

// RunSuite runs the cases one after another and reports each. A failing case
// does not stop the others; a cancelled context marks the cases not yet run
// as skipped and returns promptly.
func RunSuite(ctx context.Context, q Querier, cfg SuiteConfig) SuiteResult {
	start := time.Now()
	res := SuiteResult{Name: cfg.Name, Endpoint: cfg.Endpoint}
	for _, c := range cfg.Cases {
		if ctx.Err() != nil {
			res.Cases = append(res.Cases, CaseResult{Name: c.Name, Smoke: c.Smoke, Outcome: Skip, Message: "cancelled: " + ctx.Err().Error()})
			continue
		}
		cr, answered := runCase(ctx, q, cfg, c)
		res.Queries += answered
		res.Cases = append(res.Cases, cr)
	}
	res.Duration = time.Since(start)
	return res
}

// runCase sends the case's request, checks the prediction, and resumes from
// its checkpoint when the case has a resume step. It returns the number of
// requests the endpoint answered.
func runCase(parent context.Context, q Querier, cfg SuiteConfig, c Case) (CaseResult, int) {
	start := time.Now()
	cr := CaseResult{Name: c.Name, Smoke: c.Smoke}
	ctx := parent
	if cfg.CaseTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.CaseTimeout)
		defer cancel()
	}
	answered := 0
	finish := func(o Outcome, msg string) (CaseResult, int) {
		cr.Outcome, cr.Message, cr.Duration = o, msg, time.Since(start)
		return cr, answered
	}
	// failed turns a query error into a skip when the whole run was
	// cancelled, which is not the endpoint's fault; a case timeout is.
	failed := func(step string, err error) (CaseResult, int) {
		if parent.Err() != nil {
			return finish(Skip, "cancelled during "+step+": "+parent.Err().Error())
		}
		if httpStatus(err) != 0 {
			answered++
		}
		msg := step + ": " + err.Error()
		if ctx.Err() != nil {
			msg += fmt.Sprintf(" (case timeout %s)", cfg.CaseTimeout)
		}
		return finish(Fail, msg)
	}

	a, err := queryOne(ctx, q, cfg.Endpoint, c.Request)
	cr.ServedModel = a.servedModel
	if err != nil {
		return failed("request", err)
	}
	answered++
	cr.Statuses = append(cr.Statuses, a.prediction.Status)
	if problems := checkPrediction(a.prediction, c.Request, c.Expect); len(problems) > 0 {
		return finish(Fail, "request: "+strings.Join(problems, "; "))
	}
	if c.Resume == nil {
		return finish(Pass, "")
	}

	rec := resumeRecord(c.Request, c.Resume, a.prediction.Interrupt.Checkpoint)
	r, err := queryOne(ctx, q, cfg.Endpoint, rec)
	if err != nil {
		return failed("resume "+c.Resume.Decision, err)
	}
	answered++
	cr.Statuses = append(cr.Statuses, r.prediction.Status)
	if problems := checkResume(r.prediction, c.Request, c.Resume.Expect); len(problems) > 0 {
		return finish(Fail, "resume "+c.Resume.Decision+": "+strings.Join(problems, "; "))
	}
	return finish(Pass, "")
}

// resumeRecord answers an interrupt on the same thread.
func resumeRecord(request map[string]any, r *Resume, checkpoint string) map[string]any {
	rec := map[string]any{"resume": r.Decision, "checkpoint": checkpoint}
	if tid, ok := request["thread_id"]; ok {
		rec["thread_id"] = tid
	}
	if r.EditedArgs != nil {
		rec["edited_args"] = r.EditedArgs
	}
	return rec
}

// checkPrediction lists every way p differs from what the case expects.
func checkPrediction(p Prediction, request map[string]any, want Expect) []string {
	problems := checkCommon(p, request, want.Status)
	if want.Tool != "" && p.Tool != want.Tool {
		problems = append(problems, fmt.Sprintf("tool %q, want %q", p.Tool, want.Tool))
	}
	if want.Risk != "" && p.Risk != want.Risk {
		problems = append(problems, fmt.Sprintf("risk %q, want %q", p.Risk, want.Risk))
	}
	switch {
	case want.Interrupt && p.Interrupt == nil:
		problems = append(problems, "no interrupt, want one awaiting approval")
	case want.Interrupt && p.Interrupt.Checkpoint == "":
		problems = append(problems, "interrupt has no checkpoint to resume from")
	case want.Interrupt && p.Interrupt.Question == "":
		problems = append(problems, "interrupt has no question for the approver")
	case !want.Interrupt && p.Interrupt != nil:
		problems = append(problems, fmt.Sprintf("unexpected interrupt %q", p.Interrupt.Question))
	}
	return problems
}

func checkResume(p Prediction, request map[string]any, want ResumeExpect) []string {
	problems := checkCommon(p, request, want.Status)
	if want.Tool != "" && p.Tool != want.Tool {
		problems = append(problems, fmt.Sprintf("tool %q, want %q", p.Tool, want.Tool))
	}
	if p.Interrupt != nil {
		problems = append(problems, fmt.Sprintf("unexpected interrupt %q after resuming", p.Interrupt.Question))
	}
	return problems
}

// checkCommon checks what the contract promises for every prediction: the
// thread is echoed, the status is the expected one, and completed and error
// answers carry a result.
func checkCommon(p Prediction, request map[string]any, wantStatus string) []string {
	var problems []string
	if p.Status != wantStatus {
		msg := fmt.Sprintf("status %q, want %q", p.Status, wantStatus)
		if detail := describePrediction(p); detail != "" {
			msg += " (" + detail + ")"
		}
		problems = append(problems, msg)
	}
	if tid, ok := request["thread_id"].(string); ok && p.ThreadID != tid {
		problems = append(problems, fmt.Sprintf("thread_id %q, want %q", p.ThreadID, tid))
	}
	if p.Status == wantStatus && (p.Status == StatusCompleted || p.Status == StatusError) && (p.Result == nil || *p.Result == "") {
		problems = append(problems, fmt.Sprintf("status %s without a result", p.Status))
	}
	return problems
}

// describePrediction gives the context that explains an unexpected status.
func describePrediction(p Prediction) string {
	var parts []string
	if p.Tool != "" {
		parts = append(parts, "tool "+p.Tool)
	}
	if p.Risk != "" {
		parts = append(parts, "risk "+p.Risk)
	}
	if p.Result != nil && *p.Result != "" {
		parts = append(parts, fmt.Sprintf("result %q", truncate(*p.Result, 160)))
	}
	return strings.Join(parts, ", ")
}
