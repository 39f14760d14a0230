package validation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Tools the agent plans to, and which of them must wait for a person.
var (
	Tools         = []string{"search_knowledge_base", "delete_records", "issue_refund", "send_email"}
	highRiskTools = map[string]bool{"delete_records": true, "issue_refund": true, "send_email": true}
)

// Case is one labelled request: what a correct agent does with Message.
type Case struct {
	ID      string   `json:"id"`
	Message string   `json:"message"`
	Expect  Expect   `json:"expect"`
	Tags    []string `json:"tags"`
}

// Expect is a case's label.
type Expect struct {
	Tool      string `json:"tool"`
	Risk      string `json:"risk"`
	Interrupt bool   `json:"interrupt"`
}

// Set is the evaluation set, as tests/validation/cases.json holds it.
type Set struct {
	Version     int    `json:"version"`
	Description string `json:"description"`
	Cases       []Case `json:"cases"`
	// Digest identifies the set's content (sha256 of the file), so a verdict
	// names exactly what it was measured on.
	Digest string `json:"-"`
}

// LoadSet reads and checks an evaluation set; every defect is reported at
// once, each naming its case.
func LoadSet(path string) (*Set, error) {
	raw, err := os.ReadFile(path) // #nosec G304 -- the set's path is the project's own file or an operator's flag
	if err != nil {
		return nil, fmt.Errorf("evaluation set: %w", err)
	}
	set, err := ParseSet(raw)
	if err != nil {
		return nil, fmt.Errorf("evaluation set %s: %w", path, err)
	}
	return set, nil
}

// ParseSet decodes and checks an evaluation set.
func ParseSet(raw []byte) (*Set, error) {
	var set Set
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		return nil, fmt.Errorf("not an evaluation set: %w", err)
	}
	if err := set.check(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	set.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return &set, nil
}

func (s *Set) check() error {
	if len(s.Cases) == 0 {
		return errors.New("no cases")
	}
	known := map[string]bool{}
	for _, t := range Tools {
		known[t] = true
	}
	var errs []error
	ids, messages := map[string]bool{}, map[string]string{}
	for i, c := range s.Cases {
		name := c.ID
		if name == "" {
			name = fmt.Sprintf("case %d", i+1)
			errs = append(errs, fmt.Errorf("%s: no id", name))
		} else if ids[c.ID] {
			errs = append(errs, fmt.Errorf("%s: the id is used twice", name))
		}
		ids[c.ID] = true
		key := strings.ToLower(strings.TrimSpace(c.Message))
		switch {
		case key == "":
			errs = append(errs, fmt.Errorf("%s: empty message", name))
		case messages[key] != "":
			errs = append(errs, fmt.Errorf("%s: the same message as %s", name, messages[key]))
		default:
			messages[key] = name
		}
		if !known[c.Expect.Tool] {
			errs = append(errs, fmt.Errorf("%s: unknown tool %q (known: %s)", name, c.Expect.Tool, strings.Join(Tools, ", ")))
			continue
		}
		wantRisk := "low"
		if highRiskTools[c.Expect.Tool] {
			wantRisk = "high"
		}
		if c.Expect.Risk != wantRisk || c.Expect.Interrupt != (wantRisk == "high") {
			errs = append(errs, fmt.Errorf("%s: %s is %s risk, so risk %q and interrupt %t", name, c.Expect.Tool, wantRisk, wantRisk, wantRisk == "high"))
		}
	}
	return errors.Join(errs...)
}
