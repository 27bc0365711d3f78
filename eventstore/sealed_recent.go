package eventstore

import (
	"slices"
	"sort"
	"sync"
)

// recentSealedEvents bounds how many of its own last sealed events a store keeps in
// memory (a few seconds of a busy log; older reads go to the database).
const recentSealedEvents = 8192

// recentSealed is the run of events this process's sealer chained last, consecutive in
// the chain: what it sealed it hashed and MACed itself from pending events whose writer
// MAC it checked, so the readers of the sealed log in this process (the relay, the
// checkpoint signer) take them from here without reading them back and checking them
// again. Any other range, or a process whose sealer is not the elected one, reads the
// database as before. A seal PostgreSQL loses (it commits without waiting for its
// flush) is redone byte for byte, so what is kept here stays what the log will hold.
type recentSealed struct {
	mu     sync.Mutex
	prev   int64   // the position sealed just before events[0]
	events []Event // consecutive in the chain, in position order
}

// add appends a batch sealed right after prev; a batch that does not continue the run
// (another process sealed in between) starts a new one.
func (r *recentSealed) add(prev int64, batch []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.events); n == 0 || r.events[n-1].Position != prev {
		r.prev, r.events = prev, r.events[:0]
	}
	r.events = append(r.events, batch...)
	if over := len(r.events) - recentSealedEvents; over > 0 {
		r.prev = r.events[over-1].Position
		r.events = slices.Delete(r.events, 0, over)
	}
}

// from returns the index of the event sealed right after position after, if the run
// knows it.
func (r *recentSealed) from(after int64) (int, bool) {
	if len(r.events) == 0 {
		return 0, false
	}
	if after == r.prev {
		return 0, true
	}
	i := sort.Search(len(r.events), func(i int) bool { return r.events[i].Position >= after })
	if i == len(r.events) || r.events[i].Position != after {
		return 0, false
	}
	return i + 1, true
}

// after returns up to limit events sealed after position after, when the run holds the
// one that follows it; ok is false when the database must be read instead.
func (r *recentSealed) after(after int64, limit int) (evs []Event, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.from(after)
	if !ok || i == len(r.events) {
		return nil, false // what follows, if anything, was sealed elsewhere or is not sealed yet
	}
	return slices.Clone(r.events[i:min(len(r.events), i+limit)]), true
}

// through returns the head at position to when the run holds every event after
// position after up to it.
func (r *recentSealed) through(after, to int64) (Head, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.from(after)
	if !ok {
		return Head{}, false
	}
	j, ok := r.from(to)
	if !ok || j <= i {
		return Head{}, false
	}
	e := r.events[j-1]
	return Head{Position: e.Position, Hash: e.Hash, RecordedAt: e.RecordedAt}, true
}
