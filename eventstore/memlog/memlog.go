package memlog

import (
	"context"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Log is an event log in memory. The zero value is not usable; call New.
type Log struct {
	mu      sync.Mutex
	events  []eventstore.Event     // in position order; position = index + 1
	streams map[string][]int       // stream → indexes into events, in version order
	idem    map[idemKey]idemRecord // (company, key) → the append that used it first
	now     func() time.Time
	entropy *ulid.MonotonicEntropy
	// recorded hear every append's events before its appender is answered (OnRecorded).
	recorded []func([]eventstore.Event)
}

type idemKey struct{ company, key string }

type idemRecord struct {
	hash   []byte
	result eventstore.AppendResult
}

// New returns an empty log.
func New() *Log {
	return &Log{streams: map[string][]int{}, idem: map[idemKey]idemRecord{}, now: time.Now,
		entropy: ulid.Monotonic(ulid.DefaultEntropy(), 0)}
}

// OnRecorded adds fn to what hears every append's events before its appender is
// answered, as eventstore.Store.OnRecorded does: memory kept from the log is current
// with an append by the time its caller learns it was written. fn runs with the log
// locked and must not call it; add hooks before the first append.
func (l *Log) OnRecorded(fn func([]eventstore.Event)) { l.recorded = append(l.recorded, fn) }

// ErrStatements is the error of an append that carries Statements: they are SQL, and
// this log has no database to run them in.
var ErrStatements = ledgererr.New(ledgererr.Internal, "memlog: an append with SQL statements needs the PostgreSQL store")

// AppendWith appends a.Events to a.Stream if the stream is at a.Expected and every
// stream of a.Condition at its version; an idempotency key used before replays the
// first result or conflicts (see eventstore.Store.AppendWith).
func (l *Log) AppendWith(ctx context.Context, a eventstore.Append) (eventstore.AppendResult, error) {
	a, err := eventstore.Checked(a)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if len(a.Statements) > 0 {
		return eventstore.AppendResult{}, ErrStatements
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	company := a.Events[0].CompanyID
	if a.Idempotency != nil {
		if r, ok := l.idem[idemKey{company, a.Idempotency.Key}]; ok {
			return eventstore.Replay(r.result, r.hash, a.Idempotency)
		}
	}
	current := l.version(a.Stream)
	if a.Expected != eventstore.AnyVersion && a.Expected != eventstore.Unversioned && a.Expected != current {
		return eventstore.AppendResult{}, eventstore.Stale(a.Stream, current, a.Expected)
	}
	for _, c := range a.Condition {
		if v := l.version(c.Stream); v != c.Version {
			return eventstore.AppendResult{}, eventstore.Stale(c.Stream, v, c.Version)
		}
	}
	at := l.now().UTC()
	res := eventstore.AppendResult{StreamID: a.Stream, FirstPosition: int64(len(l.events)) + 1}
	for _, e := range a.Events {
		current++
		id := ulid.MustNew(ulid.Timestamp(at), l.entropy)
		l.streams[a.Stream] = append(l.streams[a.Stream], len(l.events))
		l.events = append(l.events, eventstore.Event{Position: int64(len(l.events)) + 1, EventID: id,
			StreamID: a.Stream, StreamVersion: current, Type: e.Type, SchemaVersion: e.SchemaVersion,
			CompanyID: e.CompanyID, Payload: append([]byte(nil), e.Payload...), Metadata: e.Metadata, RecordedAt: at})
		res.EventIDs = append(res.EventIDs, id)
	}
	res.LastPosition, res.StreamVersion = int64(len(l.events)), current
	if a.Idempotency != nil {
		first := res
		first.EventIDs = nil // a replay wrote nothing
		l.idem[idemKey{company, a.Idempotency.Key}] = idemRecord{hash: a.Idempotency.RequestHash, result: first}
	}
	for _, fn := range l.recorded {
		fn(append([]eventstore.Event(nil), l.events[res.FirstPosition-1:]...))
	}
	return res, nil
}

// version is the stream's version: its number of events. Call with l.mu held.
func (l *Log) version(stream string) int64 { return int64(len(l.streams[stream])) }

// ReadStream returns up to limit events of one stream with version > afterVersion, in
// version order. A stream that does not exist reads as empty.
func (l *Log) ReadStream(_ context.Context, stream string, afterVersion int64, limit int) ([]eventstore.Event, error) {
	if err := eventstore.CheckLimit(limit); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []eventstore.Event
	for _, i := range l.streams[stream][min(max(afterVersion, 0), l.version(stream)):] {
		if len(out) == limit {
			break
		}
		out = append(out, l.events[i])
	}
	return out, nil
}

// ReadStreams returns the events of several streams after a version each, grouped by
// stream, in version order; at most eventstore.MaxReadLimit events in all.
func (l *Log) ReadStreams(ctx context.Context, after map[string]int64) (map[string][]eventstore.Event, error) {
	out := make(map[string][]eventstore.Event, len(after))
	left := eventstore.MaxReadLimit
	for stream, v := range after {
		evs, err := l.ReadStream(ctx, stream, v, eventstore.MaxReadLimit)
		if err != nil {
			return nil, err
		}
		if len(evs) > left {
			evs = evs[:left]
		}
		if len(evs) > 0 {
			out[stream] = evs
			left -= len(evs)
		}
	}
	return out, nil
}

// Idempotent answers whether idem was already used in company: the first result again
// (Replayed) for the same request, a conflict for another.
func (l *Log) Idempotent(_ context.Context, company string, idem *eventstore.Idempotency) (eventstore.AppendResult, bool, error) {
	if idem == nil {
		return eventstore.AppendResult{}, false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.idem[idemKey{company, idem.Key}]
	if !ok {
		return eventstore.AppendResult{}, false, nil
	}
	res, err := eventstore.Replay(r.result, r.hash, idem)
	return res, true, err
}
