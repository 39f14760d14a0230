package core

import (
	"fmt"
	mrand "math/rand/v2"
	"sync"
)

// Random is one workspace's seeded generator: MLflow run ids, registered
// model and endpoint ids and the serving draws (traffic routing,
// behaviour) all come from it, in the order they are asked for, so a seed
// replays a workspace. It has its own lock, taken last: a service holding
// its own lock may draw.
type Random struct {
	mu  sync.Mutex
	pcg *mrand.PCG
}

// NewRandom is the generator of seed.
func NewRandom(seed uint64) *Random {
	// Seeded on purpose: draws must replay in tests; nothing here is a secret.
	return &Random{pcg: mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)} // #nosec G404 -- reproducible simulation, not security
}

// Uint64 draws 64 bits; with it a Random is the rand.Source of a rand.Rand.
func (g *Random) Uint64() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pcg.Uint64()
}

// UUID is a 32-hex-digit id, as MLflow run ids are, from two draws taken
// together.
func (g *Random) UUID() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Sprintf("%016x%016x", g.pcg.Uint64(), g.pcg.Uint64())
}
