package eventstore

import (
	"context"
	"sync"
)

// A process's appends share transactions (group commit): an append queues itself, and
// while fewer than maxInFlight transactions of this store are running, one more starts
// and takes every append queued by then (up to MaxBatchEvents events). One transaction
// costs the database a commit and a round trip of statements whatever it holds, so on a
// busy process sharing it is most of the throughput; with no global lock, transactions
// of other processes, and this store's second one, run beside it. Appends queued while
// both run wait for the next.

// maxInFlight bounds the transactions one store runs at once.
const maxInFlight = 2

// groupCommit is the queue of appends waiting for a transaction.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*queuedAppend
	running int
}

// queuedAppend is an append waiting for its transaction, and its answer.
type queuedAppend struct {
	ctx   context.Context
	p     *pendingAppend
	reply chan tryOutcome
}

// tryOutcome is one try's answer; retry says that the append lost a race another try
// settles (see appendAttempts).
type tryOutcome struct {
	appendOutcome
	retry bool
}

// submit queues p and returns its answer, or ctx's error when ctx ends first (the
// append may still commit, like any answer lost on the way).
func (s *Store) submit(ctx context.Context, p *pendingAppend) tryOutcome {
	q := &queuedAppend{ctx: ctx, p: p, reply: make(chan tryOutcome, 1)}
	s.gc.mu.Lock()
	s.gc.queue = append(s.gc.queue, q)
	start := s.gc.running < maxInFlight
	if start {
		s.gc.running++
	}
	s.gc.mu.Unlock()
	if start {
		go s.lead()
	}
	select {
	case out := <-q.reply:
		return out
	case <-ctx.Done():
		return tryOutcome{appendOutcome: appendOutcome{err: ctx.Err()}}
	}
}

// lead runs transactions for the queued appends until none is left.
func (s *Store) lead() {
	for {
		s.gc.mu.Lock()
		if len(s.gc.queue) == 0 {
			s.gc.running--
			s.gc.mu.Unlock()
			return
		}
		n, events := 0, 0
		for n < len(s.gc.queue) && (n == 0 || events+len(s.gc.queue[n].p.events) <= s.cfg.MaxBatchEvents) {
			events += len(s.gc.queue[n].p.events)
			n++
		}
		batch := append([]*queuedAppend(nil), s.gc.queue[:n]...)
		s.gc.queue = append(s.gc.queue[:0], s.gc.queue[n:]...)
		s.gc.mu.Unlock()
		s.commitBatch(batch)
	}
}

// commitBatch runs one transaction for batch and answers each append. Appends whose
// caller has gone are dropped unwritten. When the transaction fails as a whole, each
// append is tried again alone, so that only the one that failed it gets the error.
func (s *Store) commitBatch(batch []*queuedAppend) {
	live := batch[:0]
	for _, q := range batch {
		if err := q.ctx.Err(); err != nil {
			q.reply <- tryOutcome{appendOutcome: appendOutcome{err: err}}
			continue
		}
		live = append(live, q)
	}
	if len(live) == 0 {
		return
	}
	outs, err := s.runBatch(live)
	if err != nil && len(live) > 1 {
		for _, q := range live {
			s.commitBatch([]*queuedAppend{q})
		}
		return
	}
	for i, q := range live {
		if err != nil {
			q.reply <- tryOutcome{appendOutcome: appendOutcome{err: err.err, conflict: err.conflict}, retry: err.retry}
			continue
		}
		q.reply <- outs[i]
	}
}
