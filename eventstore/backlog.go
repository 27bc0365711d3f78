package eventstore

import (
	"context"
	"sync/atomic"
	"time"
)

// backlogCheck is how often WatchBacklog reads the sealer's backlog.
const backlogCheck = time.Second

// backlog is what WatchBacklog last saw of the sealer's backlog: over is set while it
// exceeds the store's bounds, and appends are refused then.
type backlog struct{ over atomic.Bool }

func (b *backlog) check() error {
	if b.over.Load() {
		return errBacklog
	}
	return nil
}

// Backlog is the sealer's backlog: the events waiting to be sealed and how long the
// oldest of them has waited.
type Backlog struct {
	Events int64
	Oldest time.Duration
}

// Backlog reads the sealer's backlog: the pending events above the sealed head. A row at
// or below it was not written by a ledger process (the sealer chains in position order
// and deletes what it chains in the same transaction); it is never chained, and it must
// not stop the appends either (doctor counts every pending row).
func (s *Store) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	var age *float64
	err := s.pool.QueryRow(ctx, `SELECT count(*), extract(epoch FROM now() - min(recorded_at))::float8 FROM ledger_appends
		WHERE position > (SELECT coalesce(max(position), 0) FROM ledger_events)`).Scan(&b.Events, &age)
	if age != nil {
		b.Oldest = time.Duration(*age * float64(time.Second))
	}
	return b, storeError("read the sealer's backlog", err)
}

// WatchBacklog reads the sealer's backlog every second until ctx ends, and refuses this
// process's appends while it is beyond MaxUnsealed or MaxUnsealedAge: the bound on how
// long every sealer may be down (or stopped before an event it must not chain) before
// appends stop. A read that fails leaves the last answer in place.
func (s *Store) WatchBacklog(ctx context.Context) {
	tick := time.NewTicker(backlogCheck)
	defer tick.Stop()
	for {
		if b, err := s.Backlog(ctx); err == nil {
			s.backlog.over.Store(b.Events > s.cfg.MaxUnsealed || b.Oldest > s.cfg.MaxUnsealedAge)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
