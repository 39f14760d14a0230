package emulator

import (
	"net/http"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// The error codes and body live in package core, shared by every service.
const (
	codeInvalidParameter  = core.CodeInvalidParameter
	codeDoesNotExist      = core.CodeDoesNotExist
	codeAlreadyExists     = core.CodeAlreadyExists
	codeConflict          = core.CodeConflict
	codeInvalidState      = core.CodeInvalidState
	codeBadRequest        = core.CodeBadRequest
	codeMalformed         = core.CodeMalformed
	codeNotFound          = core.CodeNotFound
	codeUnauthenticated   = core.CodeUnauthenticated
	codePermissionDenied  = core.CodePermissionDenied
	codeInternal          = core.CodeInternal
	codeUnavailable       = core.CodeUnavailable
	codeTooManyRequests   = core.CodeTooManyRequests
	codeDirectoryNotEmpty = core.CodeDirectoryNotEmpty
)

// apiError is the Databricks error body plus its HTTP status.
type apiError = core.Error

func newError(status int, code, format string, args ...any) *apiError {
	return core.NewError(status, code, format, args...)
}

func invalidParam(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeInvalidParameter, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return newError(http.StatusNotFound, codeDoesNotExist, format, args...)
}

func alreadyExists(format string, args ...any) *apiError {
	return newError(http.StatusConflict, codeAlreadyExists, format, args...)
}

func conflict(format string, args ...any) *apiError {
	return newError(http.StatusConflict, codeConflict, format, args...)
}

func invalidState(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, codeInvalidState, format, args...)
}

// statusError is the body of an injected or scripted failure with this status.
func statusError(status int, message string) *apiError {
	code := codeInternal
	switch status {
	case http.StatusTooManyRequests:
		code = codeTooManyRequests
	case http.StatusServiceUnavailable:
		code = codeUnavailable
	case http.StatusBadRequest:
		code = codeBadRequest
	case http.StatusNotFound:
		code = codeDoesNotExist
	case http.StatusConflict:
		code = codeConflict
	case http.StatusUnauthorized:
		code = codeUnauthenticated
	case http.StatusForbidden:
		code = codePermissionDenied
	}
	if message == "" {
		message = http.StatusText(status)
	}
	return &apiError{Status: status, Code: code, Message: message}
}
