package commands

import (
	"context"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// TailInterval is how often a process reads what other processes appended to the log.
const TailInterval = 100 * time.Millisecond

// tailPage bounds one read of the tail.
const tailPage = 1000

// LogTail is what the tail reads.
type LogTail interface {
	HeadPosition(ctx context.Context) (int64, error)
	ReadAllExcept(ctx context.Context, after, until int64, limit int, except []string) ([]eventstore.Event, error)
}

// undecided are the events no decision reads: access records, most of the log.
var undecided = []string{events.SecretAccessed}

// Tail keeps memory current with the appends of other ledger processes on the same
// database: every TailInterval it reads the log's head, then the events up to it after
// the last position it saw, leaving out access records (no decision reads them), and
// observes what it finds (this process's own appends come again and are skipped).
// Memory behind the log costs only a refused append and a second decision; the tail
// keeps that rare when several processes write. It starts after position after (the
// head when memory was last empty: what memory loads later is folded from the log
// anyway), or, when after is negative, at the head of its first read. Reads that fail
// are retried on the next tick. It returns when ctx ends.
func (rt *Runtime) Tail(ctx context.Context, log LogTail, after int64) {
	t := time.NewTicker(TailInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		head, err := log.HeadPosition(ctx)
		if err != nil {
			continue
		}
		if after < 0 {
			after = head
		}
		for after < head {
			evs, err := log.ReadAllExcept(ctx, after, head, tailPage, undecided)
			if err != nil {
				break
			}
			rt.Observe(evs)
			if len(evs) < tailPage {
				after = head
			} else {
				after = evs[len(evs)-1].Position
			}
		}
	}
}
