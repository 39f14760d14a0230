package core

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
)

// Sequence hands out the numeric ids one workspace's services share (job,
// run, experiment and workspace object ids), so an id is never given twice
// whichever service, under whichever lock, asks. It persists as its last
// id, a plain JSON number.
type Sequence struct {
	last atomic.Int64
}

// NewSequence continues after last.
func NewSequence(last int64) *Sequence {
	q := &Sequence{}
	q.last.Store(last)
	return q
}

// Next is a fresh id.
func (q *Sequence) Next() int64 { return q.last.Add(1) }

// MarshalJSON writes the last id given.
func (q *Sequence) MarshalJSON() ([]byte, error) { return json.Marshal(q.last.Load()) }

// UnmarshalJSON continues after the id read.
func (q *Sequence) UnmarshalJSON(raw []byte) error {
	var last int64
	if err := json.Unmarshal(raw, &last); err != nil {
		return fmt.Errorf("id sequence: %w", err)
	}
	q.last.Store(last)
	return nil
}
