package commands

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Runtime is the one decision runtime every handler decides on: the memory of the
// aggregates (kept current from the log), the decide-again loop (decideAgain), the
// conditional append (append) and the re-read that checks an answer which wrote
// nothing (moved). One is built per process and handed to each handler, so that all
// of them decide on the same memory.
type Runtime struct {
	log EventLog
	mem *memory
	// hashes keys what agent keys' issued events record; its key also keys the tokens
	// AgentKeys issues and checks.
	hashes keyHashes
}

// RecordingLog is an EventLog that hands every committed batch to the hooks registered
// on it before its writer starts (eventstore.Store).
type RecordingLog interface {
	EventLog
	OnRecorded(fn func([]eventstore.Event))
}

// NewRuntime builds the runtime over log and registers its memory on log's committed
// batches, so that memory is current with every append of this process before the
// appender is answered; call it before the log's writer starts. credentials keys agent
// keys' hashes (nil: no agent key is issued or accepted); legacyThrough is the last log
// position written before events were authenticated (ledger_integrity.legacy_through).
func NewRuntime(log RecordingLog, credentials CredentialKey, legacyThrough int64) *Runtime {
	rt := newRuntime(log, keyHashes{key: credentials, legacyThrough: legacyThrough})
	log.OnRecorded(rt.Observe)
	return rt
}

// newRuntime builds a runtime whose memory hears of no append by itself: it folds what
// it lacks from log, and learns of other writes by refused appends and re-reads.
func newRuntime(log EventLog, hashes keyHashes) *Runtime {
	return &Runtime{log: log, mem: newMemory(hashes), hashes: hashes}
}

// Observe applies committed events to the runtime's memory: NewRuntime registers it on
// the log's committed batches; the log tail feeds it other processes' appends (Tail).
func (rt *Runtime) Observe(evs []eventstore.Event) { rt.mem.Observe(evs) }

// fold applies every event of a stream, in order.
func (rt *Runtime) fold(ctx context.Context, stream string, apply func(eventstore.Event) error) error {
	return rt.foldAfter(ctx, stream, 0, apply)
}

// foldAfter applies the events of a stream after a version, in order.
func (rt *Runtime) foldAfter(ctx context.Context, stream string, after int64, apply func(eventstore.Event) error) error {
	for {
		evs, err := rt.log.ReadStream(ctx, stream, after, eventstore.MaxReadLimit)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := apply(e); err != nil {
				return err
			}
		}
		if len(evs) < eventstore.MaxReadLimit {
			return nil
		}
		after = evs[len(evs)-1].StreamVersion
	}
}

// append appends through the log. A write tells the attempt it wrote (its answer is
// checked by the append's conditions); a stream that turned out to have moved since
// the decision read it is marked stale (the next attempt reads it on from the log).
func (rt *Runtime) append(ctx context.Context, a eventstore.Append) (eventstore.AppendResult, error) {
	res, err := rt.log.AppendWith(ctx, a)
	var stale *eventstore.StaleError
	if errors.As(err, &stale) {
		rt.mem.markStale(stale.Stream)
	}
	if err == nil {
		if r := readsOf(ctx); r != nil {
			r.wrote()
		}
	}
	return res, err
}

// staleRetries bounds how often a command is decided again because a stream it read
// had moved (another process's write, or a concurrent command's). Many writers of one
// stream in several processes can make one command lose several times in a row: after
// the first few losses it waits a moment, a little longer each time and at random, so
// the writers fall out of step.
const (
	staleRetries    = 30
	staleCalmAfter  = 3
	staleCalmPerTry = time.Millisecond
)

// decideAgain runs a command's attempt until its answer holds against the log, at most
// staleRetries times. An answer that wrote was checked by its append's conditions; an
// answer that wrote nothing (an error, or "nothing to change") has no append to check
// it, so the streams it decided on are read again: if one moved, memory was behind and
// the attempt is decided again. Each refused attempt wrote nothing.
func decideAgain[T any](ctx context.Context, rt *Runtime, attempt func(ctx context.Context) (T, error)) (T, error) {
	for i := 1; ; i++ {
		reads := &readSet{versions: map[string]int64{}, parent: readsOf(ctx)}
		out, err := attempt(context.WithValue(ctx, readsKey{}, reads))
		var stale *eventstore.StaleError
		again := errors.As(err, &stale)
		if !again && !reads.didWrite() && decided(err) {
			moved, cerr := rt.moved(ctx, reads.read())
			if cerr != nil {
				return out, cerr
			}
			again = moved
		}
		if !again || i >= staleRetries {
			return out, err
		}
		if i >= staleCalmAfter {
			pause := time.Duration(rand.Int64N(int64(time.Duration(i) * staleCalmPerTry)))
			select {
			case <-ctx.Done():
				return out, err
			case <-time.After(pause):
			}
		}
	}
}

// decided reports whether err (nil included) is an answer decided on state, rather
// than a failure to reach a dependency: only such answers can be wrong for stale state.
func decided(err error) bool {
	switch ledgererr.CodeOf(err) {
	case "", ledgererr.NotFound, ledgererr.Invalid, ledgererr.Conflict, ledgererr.Forbidden, ledgererr.Unauthorized:
		return true
	}
	return false
}

// moved reports whether any stream has events after the version read; each such
// stream is marked stale.
func (rt *Runtime) moved(ctx context.Context, read map[string]int64) (bool, error) {
	if len(read) == 0 {
		return false, nil
	}
	evs, err := rt.log.ReadStreams(ctx, read)
	if err != nil {
		return false, err
	}
	moved := false
	for stream, list := range evs {
		if len(list) > 0 {
			rt.mem.markStale(stream)
			moved = true
		}
	}
	return moved, nil
}

// readSet is what one attempt of a command read and whether it wrote. A command run
// inside another's attempt (an update that deletes) writes for its parent too.
type readSet struct {
	mu       sync.Mutex
	versions map[string]int64
	wroteAny bool
	parent   *readSet
}

type readsKey struct{}

func readsOf(ctx context.Context) *readSet {
	r, _ := ctx.Value(readsKey{}).(*readSet)
	return r
}

// noteRead records that the attempt of ctx decided on stream at version.
func noteRead(ctx context.Context, stream string, version int64) {
	if r := readsOf(ctx); r != nil {
		r.mu.Lock()
		r.versions[stream] = version
		r.mu.Unlock()
	}
}

func (r *readSet) wrote() {
	for ; r != nil; r = r.parent {
		r.mu.Lock()
		r.wroteAny = true
		r.mu.Unlock()
	}
}

func (r *readSet) didWrite() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wroteAny
}

func (r *readSet) read() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.versions)
}
