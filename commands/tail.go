package commands

import (
	"context"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
)

// TailInterval is how often a process reads what other processes appended to the log.
const TailInterval = 100 * time.Millisecond

// tailPage bounds one read of the tail.
const tailPage = 1000

// LogTail is what the tail reads.
type LogTail interface {
	HeadPosition(ctx context.Context) (int64, error)
	ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.Event, error)
}

// Tail keeps memory current with the appends of other ledger processes on the same
// database: every TailInterval it reads the log after the last position it saw and
// observes what it finds (this process's own appends come again and are skipped).
// Memory behind the log costs only a refused append and a second decision; the tail
// keeps that rare when several processes write. Reads that fail are retried on the
// next tick. It returns when ctx ends.
func (h *Secrets) Tail(ctx context.Context, log LogTail) {
	t := time.NewTicker(TailInterval)
	defer t.Stop()
	after := int64(-1) // not known yet: the head at the first successful read
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if after < 0 {
			head, err := log.HeadPosition(ctx)
			if err != nil {
				continue
			}
			after = head
		}
		for {
			evs, err := log.ReadAll(ctx, after, tailPage)
			if err != nil || len(evs) == 0 {
				break
			}
			h.Observe(evs)
			after = evs[len(evs)-1].Position
			if len(evs) < tailPage {
				break
			}
		}
	}
}
