// Package httpstatus is the error for an HTTP response outside 2xx: its
// status code, which callers decide on (retry a 429, create on a 404), and
// what the server said, in one message.
package httpstatus

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a response the server refused.
type Error struct {
	Code int
	// Message is the server's explanation, already shortened by the
	// caller; empty when it sent none.
	Message string
}

// Error reads "HTTP 404 Not Found: <message>".
func (e *Error) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Code returns the status of the *Error in err's chain; ok is false when
// there is none (a network failure, a malformed request).
func Code(err error) (code int, ok bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}
