package emulator

import (
	"strings"
	"time"
)

// RequestRecord is one request the server answered.
type RequestRecord struct {
	Time     time.Time     `json:"time"`
	Method   string        `json:"method"`
	Path     string        `json:"path"`
	Query    string        `json:"query,omitempty"`
	Op       string        `json:"op,omitempty"` // e.g. "serving-endpoints.update-config"; empty for unknown routes
	Status   int           `json:"status"`
	Mutating bool          `json:"mutating"` // the route changes workspace state
	Fault    string        `json:"fault,omitempty"`
	Duration time.Duration `json:"duration"`
}

func (s *Server) record(rec RequestRecord) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if len(s.log) >= s.maxLog {
		// Drop the oldest half at once so trimming stays cheap.
		n := copy(s.log, s.log[len(s.log)/2:])
		s.log = s.log[:n]
	}
	s.log = append(s.log, rec)
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []RequestRecord {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]RequestRecord(nil), s.log...)
}

// MutatingRequests returns the requests to routes that change workspace
// state, whatever their outcome (an attempt counts). Invocations and
// read-only POSTs such as searches are not mutating.
func (s *Server) MutatingRequests() []RequestRecord {
	var out []RequestRecord
	for _, r := range s.Requests() {
		if r.Mutating {
			out = append(out, r)
		}
	}
	return out
}

// RequestsFor returns the requests whose Op starts with prefix (for example
// "jobs." or "serving-endpoints.update-config").
func (s *Server) RequestsFor(prefix string) []RequestRecord {
	var out []RequestRecord
	for _, r := range s.Requests() {
		if strings.HasPrefix(r.Op, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = nil
}
