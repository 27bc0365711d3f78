package eventstore

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NewWithClock is New with clock in place of time.Now, for the tests of idempotency
// key expiry.
func NewWithClock(pool *pgxpool.Pool, cfg Config, clock func() time.Time) *Store {
	s := New(pool, cfg)
	s.now = clock
	return s
}
