package httpapi

import (
	"cmp"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// ChangeQueries reads the events that may change an agent key's resolution.
type ChangeQueries interface {
	Head(ctx context.Context) (int64, error)
	After(ctx context.Context, a actor.Actor, after int64) ([]queries.Change, int64, error)
	// Appended is closed when this process commits an event that may concern a (nil:
	// never); a hint to read again before the interval is over.
	Appended(a actor.Actor) <-chan struct{}
}

// The change feed's long poll: it waits DefaultChangeWait (wait: 1 to MaxChangeWait
// seconds), reading the log every changePoll, and at once when this process commits an
// event of the key's company, but not within changeWakeGap of its last woken read; at most
// MaxChangePolls (Changes.MaxPolls) wait at once in a process, beyond which a poll is
// 503 with Retry-After: 1.
const (
	DefaultChangeWait = 25 * time.Second
	MaxChangeWait     = 30 * time.Second
	MaxChangePolls    = 256
	changePoll        = 200 * time.Millisecond
	// changeWakeGap bounds the reads a company's busy writing causes: at most one per
	// gap for each waiting poll, where every append would otherwise cost each a read.
	// The first wake after a quiet gap reads at once.
	changeWakeGap = 100 * time.Millisecond
)

// Changes is the runtime's change feed: an agent learns that what it resolved may have
// changed, and resolves again. It reads the database, so that any process answers it.
type Changes struct {
	Queries ChangeQueries
	// Stopping, closed when the server shuts down, ends the waits with what they have
	// (nil: never).
	Stopping <-chan struct{}
	// MaxPolls is how many polls may wait at once (0: MaxChangePolls). Each holds a
	// goroutine and reads the database every changePoll, so the cap bounds that load.
	MaxPolls int
	// interval is how often a waiting poll reads the log unwoken (0: changePoll).
	interval time.Duration
	*gate
	polls chan struct{}
}

func (h *Changes) routes(r *mux.Router, g *gate) {
	h.gate = g
	h.polls = make(chan struct{}, cmp.Or(h.MaxPolls, MaxChangePolls))
	r.HandleFunc("/runtime/changes", g.agent(h.changes)).Methods(http.MethodGet)
}

type changeOut struct {
	Position   int64  `json:"position"`
	Type       string `json:"type"`
	StreamKind string `json:"streamKind"`
	SecretID   string `json:"secretId,omitempty"`
}

type changesOut struct {
	Position int64       `json:"position"`
	Changes  []changeOut `json:"changes"`
}

// changes answers the changes after the position `after` as soon as there are any, or
// none once the wait is over; without `after`, the head at once.
func (h *Changes) changes(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	q := r.URL.Query()
	wait := DefaultChangeWait
	if s := q.Get("wait"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || time.Duration(n)*time.Second > MaxChangeWait {
			return ledgererr.New(ledgererr.Invalid, "wait must be 1 to %d seconds", int(MaxChangeWait/time.Second))
		}
		wait = time.Duration(n) * time.Second
	}
	w.Header().Set("Cache-Control", "no-store")
	if q.Get("after") == "" {
		head, err := h.Queries.Head(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, changesOut{Position: head, Changes: []changeOut{}})
		return nil
	}
	after, err := strconv.ParseInt(q.Get("after"), 10, 64)
	if err != nil || after < 0 {
		return ledgererr.New(ledgererr.Invalid, "after must be a log position")
	}
	select {
	case h.polls <- struct{}{}:
		defer func() { <-h.polls }()
	default:
		w.Header().Set("Retry-After", "1")
		return ledgererr.New(ledgererr.Unavailable, "too many change polls wait at once; retry")
	}
	out, err := h.poll(r.Context(), a, after, wait)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// poll reads the log until a change or the end of wait: every changePoll (the events
// other processes commit), and when this process commits one of the key's company.
func (h *Changes) poll(ctx context.Context, a actor.Actor, after int64, wait time.Duration) (changesOut, error) {
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(cmp.Or(h.interval, changePoll))
	defer tick.Stop()
	var woken time.Time // the last read a wake caused
	for {
		appended := h.Queries.Appended(a) // before the read: an append during it wakes the wait
		cs, pos, err := h.Queries.After(ctx, a, after)
		if err != nil {
			return changesOut{}, err
		}
		out := changesOut{Position: pos, Changes: make([]changeOut, 0, len(cs))}
		for _, c := range cs {
			out.Changes = append(out.Changes, changeOut{Position: c.Position, Type: c.Type, StreamKind: c.StreamKind, SecretID: c.SecretID})
		}
		if len(cs) > 0 || !time.Now().Before(deadline) {
			return out, nil
		}
		after = pos // nothing of ours up to pos: no need to read it again
		select {
		case <-ctx.Done():
			return changesOut{}, ctx.Err()
		case <-h.Stopping:
			return out, nil
		case <-tick.C:
		case <-appended:
			if gap := changeWakeGap - time.Since(woken); gap > 0 {
				select {
				case <-ctx.Done():
					return changesOut{}, ctx.Err()
				case <-h.Stopping:
					return out, nil
				case <-time.After(gap):
				}
			}
			woken = time.Now()
		}
	}
}
