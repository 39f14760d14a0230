package httpstatus

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestError(t *testing.T) {
	assert.Equal(t, "HTTP 404 Not Found: no such release", (&Error{Code: 404, Message: "no such release"}).Error())
	assert.Equal(t, "HTTP 503 Service Unavailable", (&Error{Code: 503}).Error())
}

func TestCode(t *testing.T) {
	code, ok := Code(fmt.Errorf("find release: %w", &Error{Code: 429}))
	assert.True(t, ok)
	assert.Equal(t, 429, code)
	_, ok = Code(errors.New("connection refused"))
	assert.False(t, ok)
}
