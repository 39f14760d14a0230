package core

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// Route is one REST route of a service. The service answers it under its
// own lock; the server mounts it behind its gateway (authentication,
// faults, the request log), which is why Op and Mutating travel with it.
type Route struct {
	// Pattern is a net/http pattern ("GET /api/2.0/workspace/list").
	Pattern string
	// Op names the operation in the request log.
	Op string
	// Mutating routes change state: the server saves it after them.
	Mutating bool
	// Handle answers the request with a JSON body, a Raw body or an error.
	// What it returns must not point into the service's state, since it is
	// encoded after the service's lock is released (see Guarded).
	Handle func(r *http.Request) (any, *Error)
	// Serve, when set, answers instead of Handle, for a route that writes
	// its own status, headers or body (model invocations, the metrics
	// export). It reads the body itself, if at all.
	Serve http.HandlerFunc
}

// Raw is a response body sent as it is rather than as JSON (a file
// downloaded directly).
type Raw struct {
	ContentType string
	Body        []byte
}

// ServeHTTP reads the body within MaxBody, so a slow client never holds a
// service's lock, calls Handle and writes its answer.
func (rt Route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.Serve != nil {
		rt.Serve(w, r)
		return
	}
	body, aerr := ReadBody(r)
	if aerr != nil {
		WriteError(w, aerr)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	out, aerr := rt.Handle(r)
	if aerr != nil {
		WriteError(w, aerr)
		return
	}
	if raw, ok := out.(Raw); ok {
		w.Header().Set("Content-Type", raw.ContentType)
		_, _ = w.Write(raw.Body)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// Guarded is a Handle for a service whose answers point into its state:
// it takes mu, settles the service's state machines to now (settle), calls
// h and encodes its answer before mu is released, so the answer is never
// read while another request changes the state.
func Guarded(mu sync.Locker, settle func(), h func(r *http.Request) (any, *Error)) func(r *http.Request) (any, *Error) {
	return func(r *http.Request) (any, *Error) {
		mu.Lock()
		defer mu.Unlock()
		settle()
		out, aerr := h(r)
		if aerr != nil {
			return nil, aerr
		}
		if out == nil {
			out = struct{}{}
		}
		raw, err := json.Marshal(out)
		if err != nil {
			return nil, NewError(http.StatusInternalServerError, CodeInternal, "encode response: %v", err)
		}
		return Raw{ContentType: "application/json", Body: raw}, nil
	}
}

// MarshalLocked encodes v, a service's state, while holding mu: what a
// service writes to the state file.
func MarshalLocked(mu sync.Locker, v any) ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	return json.Marshal(v)
}

// WriteJSON answers with v as JSON (an empty object for nil, as the
// service answers a call with nothing to say).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		v = struct{}{}
	}
	encoded, err := json.Marshal(v)
	if err != nil {
		WriteError(w, NewError(http.StatusInternalServerError, CodeInternal, "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(encoded)
}

// WriteError answers with the Databricks error body and its status.
func WriteError(w http.ResponseWriter, e *Error) {
	raw, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(raw)
}
