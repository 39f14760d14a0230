package thresholds

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCountFormat(t *testing.T) {
	assert.Equal(t, "412", count(412))
	assert.Equal(t, "2.5", count(2.5))
	assert.Equal(t, "0", count(0))
	assert.Equal(t, "12.50%", pct(0.125))
	assert.Equal(t, "182.0ms", ms(182))
	assert.Equal(t, "n/a", pct(math.NaN()))
	assert.Equal(t, "n/a", ms(math.NaN()))
}
