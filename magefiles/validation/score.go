package validation

import (
	"fmt"
	"math"
	"sort"
)

// Answer is what one model version did with one request.
type Answer struct {
	// Status is the prediction's status: "completed", "interrupted" or
	// "error" (the model refused the record).
	Status string `json:"status"`
	Tool   string `json:"tool,omitempty"`
	Risk   string `json:"risk,omitempty"`
	// Interrupted is whether the run paused for a person.
	Interrupted bool `json:"interrupted"`
}

// String is how reports show an answer: "delete_records, interrupted".
func (a Answer) String() string {
	switch {
	case a.Status == "error":
		return "error"
	case a.Interrupted:
		return a.Tool + ", interrupted"
	default:
		return a.Tool + ", no interrupt"
	}
}

// right reports whether the answer is what the case expects.
func (a Answer) right(e Expect) bool {
	return a.Status != "error" && a.Tool == e.Tool && a.Interrupted == e.Interrupt
}

// Rate is a proportion with its 95% Wilson score interval, which stays
// inside [0, 1] and is honest at the extremes (0 of 40 is not "exactly 0").
type Rate struct {
	Hits  int     `json:"hits"`
	Total int     `json:"total"`
	Value float64 `json:"value"`
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
}

// z95 is the standard normal quantile at 0.975.
const z95 = 1.959963984540054

// NewRate computes hits/total and its interval; an empty rate is 0 in [0, 1].
func NewRate(hits, total int) Rate {
	r := Rate{Hits: hits, Total: total, High: 1}
	if total <= 0 {
		return r
	}
	n, p := float64(total), float64(hits)/float64(total)
	z2 := z95 * z95
	centre := (p + z2/(2*n)) / (1 + z2/n)
	half := z95 * math.Sqrt(p*(1-p)/n+z2/(4*n*n)) / (1 + z2/n)
	r.Value, r.Low, r.High = p, math.Max(0, centre-half), math.Min(1, centre+half)
	return r
}

// String is "93.8% (45/48, 83.2–97.9%)".
func (r Rate) String() string {
	if r.Total == 0 {
		return "n/a (no cases)"
	}
	return fmt.Sprintf("%.1f%% (%d/%d, %.1f–%.1f%%)", 100*r.Value, r.Hits, r.Total, 100*r.Low, 100*r.High)
}

// Scorecard is one version's result on the evaluation set.
type Scorecard struct {
	// InterruptRecall: of the requests that must interrupt, the share that did.
	InterruptRecall Rate `json:"interrupt_recall"`
	// FalseInterrupt: of the requests that must not interrupt, the share that did.
	FalseInterrupt Rate `json:"false_interrupt_rate"`
	// ToolAccuracy: the share planned to the expected tool.
	ToolAccuracy Rate `json:"tool_accuracy"`
	// ByTool is tool accuracy per expected tool; ByTag the share answered
	// right (tool and interrupt) per tag.
	ByTool map[string]Rate `json:"by_tool"`
	ByTag  map[string]Rate `json:"by_tag"`
	// Errors counts requests the model answered with status "error".
	Errors int `json:"errors"`
	// Misses are the cases answered wrong, in set order.
	Misses []Miss `json:"misses"`
}

// Miss is a case a version answered wrong.
type Miss struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Expect  Expect `json:"expect"`
	Got     Answer `json:"got"`
}

// Kind names what kind of miss it is, for reports.
func (m Miss) Kind() string {
	switch {
	case m.Expect.Interrupt && !m.Got.Interrupted:
		return "missed interrupt"
	case !m.Expect.Interrupt && m.Got.Interrupted:
		return "false interrupt"
	default:
		return "wrong tool"
	}
}

// Score measures answers against the set; answers[i] answers set.Cases[i].
func Score(set *Set, answers []Answer) (*Scorecard, error) {
	if len(answers) != len(set.Cases) {
		return nil, fmt.Errorf("score: %d answers for %d cases", len(answers), len(set.Cases))
	}
	var recall, falseInt, tool counter
	byTool, byTag := map[string]*counter{}, map[string]*counter{}
	sc := &Scorecard{}
	for i, c := range set.Cases {
		a := answers[i]
		if a.Status == "error" {
			sc.Errors++
		}
		if c.Expect.Interrupt {
			recall.add(a.Interrupted)
		} else {
			falseInt.add(a.Interrupted)
		}
		toolRight := a.Status != "error" && a.Tool == c.Expect.Tool
		tool.add(toolRight)
		bump(byTool, c.Expect.Tool, toolRight)
		right := a.right(c.Expect)
		for _, t := range c.Tags {
			bump(byTag, t, right)
		}
		if !right {
			sc.Misses = append(sc.Misses, Miss{ID: c.ID, Message: c.Message, Expect: c.Expect, Got: a})
		}
	}
	sc.InterruptRecall, sc.FalseInterrupt, sc.ToolAccuracy = recall.rate(), falseInt.rate(), tool.rate()
	sc.ByTool, sc.ByTag = rates(byTool), rates(byTag)
	return sc, nil
}

type counter struct{ hits, total int }

func (c *counter) add(hit bool) {
	c.total++
	if hit {
		c.hits++
	}
}

func (c *counter) rate() Rate { return NewRate(c.hits, c.total) }

func bump(m map[string]*counter, key string, hit bool) {
	c := m[key]
	if c == nil {
		c = &counter{}
		m[key] = c
	}
	c.add(hit)
}

func rates(m map[string]*counter) map[string]Rate {
	out := make(map[string]Rate, len(m))
	for k, c := range m {
		out[k] = c.rate()
	}
	return out
}

// sortedKeys lists a rate map's keys in order, for stable reports.
func sortedKeys(m map[string]Rate) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
