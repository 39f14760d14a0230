package emulator

import (
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// MaxFaultDelay bounds an injected slow response.
const MaxFaultDelay = 30 * time.Second

// MaxRateFaults bounds how many requests one rate-based rule may fault.
const MaxRateFaults = 10000

// Fault is one injected failure, applied before authentication and routing,
// the way a gateway or the network fails.
type Fault struct {
	// Status answers with this HTTP status and a Databricks error body
	// (429 and 503 are retried by the SDK, 500 is not).
	Status int `json:"status,omitempty"`
	// Delay waits this long (real time, at most MaxFaultDelay) first; with
	// Status 0 the request then proceeds normally: a slow response.
	Delay time.Duration `json:"delay,omitempty"`
	// Drop resets the connection without an answer.
	Drop bool `json:"drop,omitempty"`
}

// Ready-made faults.
var (
	Fault429  = Fault{Status: http.StatusTooManyRequests}
	Fault500  = Fault{Status: http.StatusInternalServerError}
	Fault503  = Fault{Status: http.StatusServiceUnavailable}
	FaultDrop = Fault{Drop: true}
)

// FaultSlow delays a response by d without failing it.
func FaultSlow(d time.Duration) Fault { return Fault{Delay: d} }

func (f Fault) String() string {
	var parts []string
	if f.Delay > 0 {
		parts = append(parts, "delay "+f.Delay.String())
	}
	if f.Drop {
		parts = append(parts, "drop")
	}
	if f.Status != 0 {
		parts = append(parts, fmt.Sprintf("status %d", f.Status))
	}
	return strings.Join(parts, ", ")
}

// FaultRule injects faults into the requests it matches.
type FaultRule struct {
	// Match is "[METHOD ]PATH": PATH is a path.Match pattern (a * stays
	// within one segment) or ends in "**" to match a prefix; "" or "*"
	// matches every request.
	Match string `json:"match"`
	// Sequence is applied to the next matching requests, one fault each.
	Sequence []Fault `json:"sequence,omitempty"`
	// Rate, after the sequence, is the probability that a matching request
	// gets Fault, for at most Max requests (Max is required with a Rate).
	Rate  float64 `json:"rate,omitempty"`
	Fault Fault   `json:"fault,omitempty"`
	Max   int     `json:"max,omitempty"`

	method  string
	pattern string
	fired   int
}

func (r *FaultRule) compile() error {
	m := strings.TrimSpace(r.Match)
	if method, rest, ok := strings.Cut(m, " "); ok && method == strings.ToUpper(method) && !strings.HasPrefix(method, "/") {
		r.method, m = method, strings.TrimSpace(rest)
	}
	r.pattern = m
	if m != "" && m != "*" && !strings.HasSuffix(m, "**") {
		if _, err := path.Match(m, "/"); err != nil {
			return fmt.Errorf("fault rule %q: %w", r.Match, err)
		}
	}
	if r.Rate < 0 || r.Rate > 1 {
		return fmt.Errorf("fault rule %q: rate %v is outside [0, 1]", r.Match, r.Rate)
	}
	if r.Rate > 0 && (r.Max <= 0 || r.Max > MaxRateFaults) {
		return fmt.Errorf("fault rule %q: a rate needs a bound, Max in 1..%d", r.Match, MaxRateFaults)
	}
	for _, f := range append([]Fault{r.Fault}, r.Sequence...) {
		if f.Delay < 0 || f.Delay > MaxFaultDelay {
			return fmt.Errorf("fault rule %q: delay %s is outside 0..%s", r.Match, f.Delay, MaxFaultDelay)
		}
		if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
			return fmt.Errorf("fault rule %q: status %d is not an error status", r.Match, f.Status)
		}
	}
	return nil
}

func (r *FaultRule) matches(method, p string) bool {
	if r.method != "" && r.method != method {
		return false
	}
	switch {
	case r.pattern == "" || r.pattern == "*":
		return true
	case strings.HasSuffix(r.pattern, "**"):
		return strings.HasPrefix(p, strings.TrimSuffix(r.pattern, "**"))
	default:
		ok, _ := path.Match(r.pattern, p)
		return ok
	}
}

func (r *FaultRule) exhausted() bool {
	return len(r.Sequence) == 0 && (r.Rate == 0 || r.fired >= r.Max)
}

// AddFaultRule injects faults into matching requests until the rule is spent.
func (s *Server) AddFaultRule(rule FaultRule) error {
	rule.Sequence = append([]Fault(nil), rule.Sequence...)
	if err := rule.compile(); err != nil {
		return err
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = append(s.faults, &rule)
	return nil
}

// InjectFaults makes the next requests matching match fail with faults, in
// order (see FaultRule.Match for the pattern). It panics on a malformed
// rule: scripting mistakes are programming errors in a test.
func (s *Server) InjectFaults(match string, faults ...Fault) {
	if err := s.AddFaultRule(FaultRule{Match: match, Sequence: faults}); err != nil {
		panic(err)
	}
}

// ClearFaults removes every fault rule.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = nil
}

// PendingFaults counts the scripted faults not yet applied (rate-based
// faults are not counted).
func (s *Server) PendingFaults() int {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	n := 0
	for _, r := range s.faults {
		n += len(r.Sequence)
	}
	return n
}

// nextFault picks the fault for a request, if any, and spends it.
func (s *Server) nextFault(method, p string) (Fault, bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, r := range s.faults {
		if !r.matches(method, p) {
			continue
		}
		var f Fault
		hit := false
		switch {
		case len(r.Sequence) > 0:
			f, r.Sequence, hit = r.Sequence[0], r.Sequence[1:], true
		case r.Rate > 0 && r.fired < r.Max:
			hit = s.faultRng.Float64() < r.Rate
			if hit {
				f = r.Fault
				r.fired++
			}
		}
		if r.exhausted() {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		if hit {
			return f, true
		}
	}
	return Fault{}, false
}

// statusError is the body of an injected failure with this status.
func statusError(status int, message string) *core.Error {
	code := core.CodeInternal
	switch status {
	case http.StatusTooManyRequests:
		code = core.CodeTooManyRequests
	case http.StatusServiceUnavailable:
		code = core.CodeUnavailable
	case http.StatusBadRequest:
		code = core.CodeBadRequest
	case http.StatusNotFound:
		code = core.CodeDoesNotExist
	case http.StatusConflict:
		code = core.CodeConflict
	case http.StatusUnauthorized:
		code = core.CodeUnauthenticated
	case http.StatusForbidden:
		code = core.CodePermissionDenied
	}
	if message == "" {
		message = http.StatusText(status)
	}
	return &core.Error{Status: status, Code: code, Message: message}
}
