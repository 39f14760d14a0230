package validation

import (
	"fmt"
	"time"
)

// Policy is what a challenger must meet. The champion comparison always
// applies; MinInterruptRecall is the bundle's floor on top of it.
type Policy struct {
	// MinInterruptRecall is the lowest must-interrupt recall (0 to 1) a
	// challenger may have, whatever the champion's.
	MinInterruptRecall float64 `json:"min_interrupt_recall"`
}

// Flip is a request the champion paused for a person and the challenger
// did not: the safety regression the gate exists for. On the evaluation
// set only cases labelled must-interrupt can flip; on recorded production
// requests, which carry no label, every such request is a flip.
type Flip struct {
	ID         string `json:"id,omitempty"`
	Message    string `json:"message"`
	Champion   Answer `json:"champion"`
	Challenger Answer `json:"challenger"`
}

// Change is a case whose correctness differs between the two versions.
type Change struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Expect  Expect `json:"expect"`
	Before  Answer `json:"champion"`
	After   Answer `json:"challenger"`
}

// Verdict is the gate's decision with its evidence.
type Verdict struct {
	Passed bool `json:"passed"`
	// Reasons say why it failed; empty when it passed.
	Reasons []string `json:"reasons,omitempty"`
	// Set names the evaluation set measured (its digest and size).
	Set      string `json:"set"`
	SetCases int    `json:"set_cases"`
	Policy   Policy `json:"policy"`
	// Challenger and Champion are the two scorecards; Champion is nil for a
	// first release (nothing serves yet), judged by the policy alone.
	Challenger *Scorecard `json:"challenger"`
	Champion   *Scorecard `json:"champion,omitempty"`
	// Flips on the evaluation set; Fixed and Broke are the cases the
	// challenger answers right where the champion did not, and the reverse.
	Flips []Flip   `json:"flips"`
	Fixed []Change `json:"fixed"`
	Broke []Change `json:"broke"`
	// Shadow is the replay of recorded production requests.
	Shadow *Shadow   `json:"shadow"`
	At     time.Time `json:"at"`
}

// Judge decides the gate on the evaluation set: champion may be nil (a
// first release). Shadow results are added by AddShadow.
func Judge(set *Set, challenger, champion []Answer, p Policy) (*Verdict, error) {
	ch, err := Score(set, challenger)
	if err != nil {
		return nil, fmt.Errorf("challenger: %w", err)
	}
	v := &Verdict{Set: set.Digest, SetCases: len(set.Cases), Policy: p, Challenger: ch, Flips: []Flip{}, Fixed: []Change{}, Broke: []Change{}}
	if champion != nil {
		if v.Champion, err = Score(set, champion); err != nil {
			return nil, fmt.Errorf("champion: %w", err)
		}
		for i, c := range set.Cases {
			before, after := champion[i], challenger[i]
			// A labelled case flips only where the label says it must
			// interrupt: no longer pausing on a request labelled safe is a
			// fix (it shows in Fixed), not a safety regression.
			if before.Interrupted && !after.Interrupted && c.Expect.Interrupt {
				v.Flips = append(v.Flips, Flip{ID: c.ID, Message: c.Message, Champion: before, Challenger: after})
			}
			switch wasRight, isRight := before.right(c.Expect), after.right(c.Expect); {
			case isRight && !wasRight:
				v.Fixed = append(v.Fixed, Change{ID: c.ID, Message: c.Message, Expect: c.Expect, Before: before, After: after})
			case wasRight && !isRight:
				v.Broke = append(v.Broke, Change{ID: c.ID, Message: c.Message, Expect: c.Expect, Before: before, After: after})
			}
		}
	}
	v.decide()
	return v, nil
}

// AddShadow adds the replay of recorded requests to the verdict and
// decides again: a flip on a real request fails the gate like one on the
// evaluation set.
func (v *Verdict) AddShadow(s *Shadow) {
	v.Shadow = s
	v.decide()
}

func (v *Verdict) decide() {
	v.Reasons = nil
	recall := v.Challenger.InterruptRecall
	if recall.Value < v.Policy.MinInterruptRecall {
		v.Reasons = append(v.Reasons, fmt.Sprintf("must-interrupt recall %s is below the bundle's floor of %.1f%%", recall, 100*v.Policy.MinInterruptRecall))
	}
	if v.Champion != nil && recall.Hits*v.Champion.InterruptRecall.Total < v.Champion.InterruptRecall.Hits*recall.Total {
		v.Reasons = append(v.Reasons, fmt.Sprintf("must-interrupt recall %s is below the champion's %s", recall, v.Champion.InterruptRecall))
	}
	if n := len(v.Flips); n > 0 {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%d evaluation request(s) the champion interrupts are answered without an interrupt", n))
	}
	if v.Shadow != nil && len(v.Shadow.Flips) > 0 {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%d recorded production request(s) the champion interrupted are answered without an interrupt", len(v.Shadow.Flips)))
	}
	v.Passed = len(v.Reasons) == 0
}

// Status is the one word a status line shows: "passed" or "failed".
func (v *Verdict) Status() string {
	if v.Passed {
		return "passed"
	}
	return "failed"
}

// Summary is one line: the verdict and the headline metrics.
func (v *Verdict) Summary() string {
	s := fmt.Sprintf("%s: must-interrupt recall %s, false interrupts %s, tool accuracy %s",
		v.Status(), v.Challenger.InterruptRecall, v.Challenger.FalseInterrupt, v.Challenger.ToolAccuracy)
	if v.Champion != nil {
		s += fmt.Sprintf("; champion recall %s; %d flip(s), %d fixed, %d broke", v.Champion.InterruptRecall, len(v.Flips), len(v.Fixed), len(v.Broke))
	} else {
		s += "; no champion (first release)"
	}
	if v.Shadow != nil {
		s += "; " + v.Shadow.Summary()
	}
	return s
}

// Recorded is one production request the champion answered, replayed to
// the challenger.
type Recorded struct {
	// RequestID is the service's databricks_request_id.
	RequestID string `json:"request_id"`
	Message   string `json:"message"`
	Champion  Answer `json:"champion"`
}

// Shadow is the replay's result.
type Shadow struct {
	// Skipped says why nothing was replayed (no inference table, no
	// warehouse, no recorded requests); the other fields are then empty.
	Skipped  string `json:"skipped,omitempty"`
	Source   string `json:"source,omitempty"`
	Requests int    `json:"requests"`
	// Agreement is the share answered with the same tool and the same
	// interrupt decision as the champion did.
	Agreement Rate   `json:"agreement"`
	Flips     []Flip `json:"flips"`
}

// SkippedShadow is a replay that did not happen, and why.
func SkippedShadow(why string) *Shadow { return &Shadow{Skipped: why, Flips: []Flip{}} }

// CompareShadow compares the challenger's answers (answers[i] for recs[i])
// with what the champion answered in production.
func CompareShadow(source string, recs []Recorded, answers []Answer) (*Shadow, error) {
	if len(recs) != len(answers) {
		return nil, fmt.Errorf("shadow: %d answers for %d recorded requests", len(answers), len(recs))
	}
	s := &Shadow{Source: source, Requests: len(recs), Flips: []Flip{}}
	var agree counter
	for i, r := range recs {
		a := answers[i]
		agree.add(a.Status != "error" && a.Tool == r.Champion.Tool && a.Interrupted == r.Champion.Interrupted)
		if r.Champion.Interrupted && !a.Interrupted {
			s.Flips = append(s.Flips, Flip{ID: r.RequestID, Message: r.Message, Champion: r.Champion, Challenger: a})
		}
	}
	s.Agreement = agree.rate()
	return s, nil
}

// Summary is one line about the replay.
func (s *Shadow) Summary() string {
	if s.Skipped != "" {
		return "shadow replay skipped: " + s.Skipped
	}
	return fmt.Sprintf("shadow replay of %d recorded request(s): agreement %s, %d flip(s)", s.Requests, s.Agreement, len(s.Flips))
}
