package cputime

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestAddCountsOnTheContextsMeterOnly(t *testing.T) {
	var m Meter
	ctx := With(context.Background(), &m)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Add(ctx, time.Millisecond)
		}()
	}
	wg.Wait()
	Add(context.Background(), time.Hour) // no meter: not counted anywhere
	assert.Equal(t, 8*time.Millisecond, m.Total())
}
