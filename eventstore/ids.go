package eventstore

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// idSource hands out ULIDs from a crypto-random monotonic entropy source: ids created in
// the same millisecond still sort in creation order. ulid.Monotonic is not safe for
// concurrent use, hence the mutex.
type idSource struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

func newIDSource() *idSource {
	return &idSource{entropy: ulid.Monotonic(rand.Reader, 0)}
}

func (s *idSource) next(now time.Time) (ulid.ULID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ulid.New(ulid.Timestamp(now), s.entropy)
}
