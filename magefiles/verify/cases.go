package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// DefaultCasesPath is where the integration cases live, relative to the
// repository root.
const DefaultCasesPath = "tests/integration/cases.json"

// Statuses a prediction may report, from the served model contract.
const (
	StatusInterrupted = "interrupted"
	StatusCompleted   = "completed"
	StatusRejected    = "rejected"
	StatusError       = "error"
)

var knownStatuses = []string{StatusInterrupted, StatusCompleted, StatusRejected, StatusError}

// Case is one request to the endpoint and what must come back, optionally
// followed by a resume of the interrupt it raised.
type Case struct {
	Name  string `json:"name"`
	Smoke bool   `json:"smoke"`
	// Request is the dataframe record sent as is.
	Request map[string]any `json:"request"`
	Expect  Expect         `json:"expect"`
	Resume  *Resume        `json:"resume"`
}

// Expect is the expected shape of one prediction. Empty Tool and Risk are not
// checked; Interrupt is always checked.
type Expect struct {
	Status    string `json:"status"`
	Tool      string `json:"tool,omitempty"`
	Risk      string `json:"risk,omitempty"`
	Interrupt bool   `json:"interrupt"`
}

// Resume answers the interrupt of a case's first request with the checkpoint
// that request returned.
type Resume struct {
	Decision   string         `json:"decision"`
	EditedArgs map[string]any `json:"edited_args"`
	Expect     ResumeExpect   `json:"expect"`
}

// ResumeExpect is the expected outcome of a resume. Empty Tool is not checked.
type ResumeExpect struct {
	Status string `json:"status"`
	Tool   string `json:"tool,omitempty"`
}

type casesFile struct {
	Cases []Case `json:"cases"`
}

// LoadCases reads and validates a cases file. Every problem is reported, not
// only the first.
func LoadCases(path string) ([]Case, error) {
	// #nosec G304 -- the integration cases file named by the repository layout (tests/integration/cases.json) or a test
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load integration cases: %w", err)
	}
	cases, err := ParseCases(data)
	if err != nil {
		return nil, fmt.Errorf("load integration cases %s: %w", path, err)
	}
	return cases, nil
}

// ParseCases decodes and validates the JSON form of a cases file. Unknown
// fields are rejected so a typo in an expectation cannot silently disable it.
func ParseCases(data []byte) ([]Case, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f casesFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := ValidateCases(f.Cases); err != nil {
		return nil, err
	}
	return f.Cases, nil
}

// ValidateCases checks that cases can be run: names unique, a request and an
// expected status on every case, resumes only after an expected interrupt.
func ValidateCases(cases []Case) error {
	if len(cases) == 0 {
		return errors.New("no cases")
	}
	var problems []string
	add := func(i int, c Case, format string, args ...any) {
		label := fmt.Sprintf("cases[%d]", i)
		if c.Name != "" {
			label += fmt.Sprintf(" %q", c.Name)
		}
		problems = append(problems, label+": "+fmt.Sprintf(format, args...))
	}
	seen := map[string]int{}
	for i, c := range cases {
		switch prev, dup := seen[c.Name]; {
		case strings.TrimSpace(c.Name) == "":
			add(i, c, "name is empty")
		case dup:
			add(i, c, "name repeats cases[%d]", prev)
		default:
			seen[c.Name] = i
		}
		if len(c.Request) == 0 {
			add(i, c, "request is empty")
		}
		if !validStatus(c.Expect.Status) {
			add(i, c, "expect.status %q is not one of %s", c.Expect.Status, strings.Join(knownStatuses, ", "))
		}
		if c.Resume == nil {
			continue
		}
		if !c.Expect.Interrupt {
			add(i, c, "resume needs expect.interrupt true: there is no checkpoint to resume from")
		}
		if strings.TrimSpace(c.Resume.Decision) == "" {
			add(i, c, "resume.decision is empty")
		}
		if !validStatus(c.Resume.Expect.Status) {
			add(i, c, "resume.expect.status %q is not one of %s", c.Resume.Expect.Status, strings.Join(knownStatuses, ", "))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

func validStatus(s string) bool {
	for _, k := range knownStatuses {
		if s == k {
			return true
		}
	}
	return false
}

// SmokeCases returns the cases marked smoke, in file order.
func SmokeCases(cases []Case) []Case {
	var out []Case
	for _, c := range cases {
		if c.Smoke {
			out = append(out, c)
		}
	}
	return out
}

// FirstRequests returns each case's first request, the traffic a load test
// cycles over.
func FirstRequests(cases []Case) []map[string]any {
	out := make([]map[string]any, 0, len(cases))
	for _, c := range cases {
		out = append(out, c.Request)
	}
	return out
}
