package core

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes the emulator answers with; the SDK maps them (and the HTTP
// status) to the apierr sentinel errors, as it does for the real service.
const (
	CodeInvalidParameter  = "INVALID_PARAMETER_VALUE"
	CodeDoesNotExist      = "RESOURCE_DOES_NOT_EXIST"
	CodeAlreadyExists     = "RESOURCE_ALREADY_EXISTS"
	CodeConflict          = "RESOURCE_CONFLICT"
	CodeInvalidState      = "INVALID_STATE"
	CodeBadRequest        = "BAD_REQUEST"
	CodeMalformed         = "MALFORMED_REQUEST"
	CodeNotFound          = "ENDPOINT_NOT_FOUND"
	CodeUnauthenticated   = "UNAUTHENTICATED"
	CodePermissionDenied  = "PERMISSION_DENIED"
	CodeInternal          = "INTERNAL_ERROR"
	CodeUnavailable       = "TEMPORARILY_UNAVAILABLE"
	CodeTooManyRequests   = "REQUEST_LIMIT_EXCEEDED"
	CodeDirectoryNotEmpty = "DIRECTORY_NOT_EMPTY"
)

// Error is the Databricks error body plus its HTTP status.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"error_code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// NewError is an error with this status, code and formatted message.
func NewError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidParam is 400 INVALID_PARAMETER_VALUE.
func InvalidParam(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidParameter, format, args...)
}

// NotFound is 404 RESOURCE_DOES_NOT_EXIST.
func NotFound(format string, args ...any) *Error {
	return NewError(http.StatusNotFound, CodeDoesNotExist, format, args...)
}

// PermissionDenied is 403 PERMISSION_DENIED.
func PermissionDenied(format string, args ...any) *Error {
	return NewError(http.StatusForbidden, CodePermissionDenied, format, args...)
}

// AlreadyExists is 409 RESOURCE_ALREADY_EXISTS.
func AlreadyExists(format string, args ...any) *Error {
	return NewError(http.StatusConflict, CodeAlreadyExists, format, args...)
}

// Conflict is 409 RESOURCE_CONFLICT.
func Conflict(format string, args ...any) *Error {
	return NewError(http.StatusConflict, CodeConflict, format, args...)
}

// InvalidState is 400 INVALID_STATE.
func InvalidState(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidState, format, args...)
}

// RestException renders err as MLflow's client prints an API error
// ("RESOURCE_DOES_NOT_EXIST: Routine or Model 'a.b.c' does not exist."),
// which is what a job task that called the API logs; any other error is
// its text.
func RestException(err error) string {
	var aerr *Error
	if errors.As(err, &aerr) {
		return aerr.Code + ": " + aerr.Message
	}
	return err.Error()
}
