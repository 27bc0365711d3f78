package queries

import (
	"strings"
	"sync"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// Appends tells the change feed's waiting polls that this process's sealer chained an
// event of their company, so that a poll reads the log at once instead of at its next
// interval. It is a hint, never the answer: the poll still reads the log (which decides
// what is a change of its key), and it keeps reading on its interval for the events that
// another process's sealer chains, which no hook here hears.
type Appends struct {
	mu      sync.Mutex
	waiting map[string]chan struct{} // by company: closed at its next append
}

// NewAppends returns Appends; give Recorded to the store's OnSealed.
func NewAppends() *Appends { return &Appends{waiting: map[string]chan struct{}{}} }

// Recorded is the store's hook for a sealed batch: it wakes the polls of each company
// the batch wrote to. Access records are left out: no resolution depends on
// them, and under a resolution load they are most of the log.
func (w *Appends) Recorded(evs []eventstore.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range evs {
		if strings.HasPrefix(e.StreamID, events.AccessStreamPrefix) {
			continue
		}
		if ch, ok := w.waiting[e.CompanyID]; ok {
			close(ch)
			delete(w.waiting, e.CompanyID)
		}
	}
}

// next is closed at the next append of company this process commits.
func (w *Appends) next(company string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.waiting[company]
	if !ok {
		ch = make(chan struct{})
		w.waiting[company] = ch
	}
	return ch
}

// Appended is closed at the next append this process commits of the agent key a's
// company (nil, which never closes, without Appends). Take it before reading the log:
// an append during the read then still wakes the next wait.
func (q Changes) Appended(a actor.Actor) <-chan struct{} {
	if q.Appends == nil || len(a.Companies) != 1 {
		return nil
	}
	return q.Appends.next(a.Companies[0])
}
