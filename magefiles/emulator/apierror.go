package emulator

import (
	"fmt"
	"net/http"
)

// Error codes the emulator answers with; the SDK maps them (and the HTTP
// status) to the apierr sentinel errors, as it does for the real service.
const (
	codeInvalidParameter  = "INVALID_PARAMETER_VALUE"
	codeDoesNotExist      = "RESOURCE_DOES_NOT_EXIST"
	codeAlreadyExists     = "RESOURCE_ALREADY_EXISTS"
	codeConflict          = "RESOURCE_CONFLICT"
	codeInvalidState      = "INVALID_STATE"
	codeBadRequest        = "BAD_REQUEST"
	codeMalformed         = "MALFORMED_REQUEST"
	codeNotFound          = "ENDPOINT_NOT_FOUND"
	codeUnauthenticated   = "UNAUTHENTICATED"
	codePermissionDenied  = "PERMISSION_DENIED"
	codeInternal          = "INTERNAL_ERROR"
	codeUnavailable       = "TEMPORARILY_UNAVAILABLE"
	codeTooManyRequests   = "REQUEST_LIMIT_EXCEEDED"
	codeDirectoryNotEmpty = "DIRECTORY_NOT_EMPTY"
)

// apiError is the Databricks error body plus its HTTP status.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"error_code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
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
