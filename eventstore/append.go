package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// MaxAppendEvents bounds the events of one append (a leak scan's findings are the
// largest: one event per finding, at most 1,000, and the scan's own).
const MaxAppendEvents = 5000

// Idempotency makes an append safe to retry. RequestHash fingerprints the caller's
// request (for example an HMAC of the HTTP body): the same key with the same hash gets
// the first result again; the same key with another hash is a conflict. When
// RequestHash is empty, it is derived from the stream, the expected version and the
// events' types, company and payloads.
type Idempotency struct {
	Key         string
	RequestHash []byte
}

type pendingAppend struct {
	stream     string
	expected   int64
	also       []StreamVersion
	statements []Statement
	events     []EventData
	idem       *Idempotency
	company    string
}

type appendOutcome struct {
	res AppendResult
	err error
	// conflict is the kind of a refusal (ConflictVersion, ...), "" otherwise.
	conflict string
}

// Append writes events to stream atomically, provided the stream is at expected
// (AnyVersion, NoStream or a version number); otherwise it returns an ECONFLICT
// *ledgererr.Error and writes nothing. When the first event's Metadata carries an
// IdempotencyKey, the append is idempotent on it (see Idempotency). It is AppendWith
// for the simple case.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events ...EventData) (AppendResult, error) {
	var idem *Idempotency
	if len(events) > 0 && events[0].Metadata.IdempotencyKey != "" {
		idem = &Idempotency{Key: events[0].Metadata.IdempotencyKey}
	}
	return s.AppendWith(ctx, Append{Stream: stream, Expected: expected, Events: events, Idempotency: idem})
}

// StreamVersion is a version another stream must be at for an append to go ahead.
type StreamVersion struct {
	Stream  string
	Version int64 // a version number, or NoStream
}

// Append is one append with everything that may ride on it.
type Append struct {
	Stream   string
	Expected int64 // AnyVersion, NoStream or a version number
	Events   []EventData
	// Idempotency, when set, makes the append safe to retry (see Idempotency).
	Idempotency *Idempotency
	// Condition names other streams the decision read, at the versions it read them:
	// every one must be at its version (checked under the append lock, in the same
	// transaction), else the append is an ECONFLICT and writes nothing. A decision that
	// read several streams appends to one of them and names the others, so a write to
	// any of them that landed after the read makes it decide again.
	Condition []StreamVersion
	// Statements run in the append's transaction, after its events and their
	// projections, only when the append is accepted (not refused, not replayed): a
	// provider's ciphertext insert, or the read-back of what the command changed.
	Statements []Statement
}

// Statement runs in an append's transaction (see Append.Statements). Row, when set,
// receives its one result row; it runs in the writer and must be quick. The values it
// scanned count only when the append returns without error: a transaction that fails
// afterwards is retried, and Row may run again.
type Statement struct {
	SQL  string
	Args []any
	Row  func(pgx.Row) error
}

// StaleError is the cause of an ECONFLICT when a stream was not at the version the
// append expected (the appended stream, or a stream of its condition): whoever
// decided on that stream read it before the write that moved it.
type StaleError struct {
	Stream            string
	Version, Expected int64
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("stream %s is at version %d, expected %d", e.Stream, e.Version, e.Expected)
}

func staleOutcome(stream string, version, expected int64) appendOutcome {
	cause := &StaleError{Stream: stream, Version: version, Expected: expected}
	return appendOutcome{err: ledgererr.Wrap(cause, ledgererr.Conflict, "%s", cause.Error()), conflict: ConflictVersion}
}

// AppendWith writes a.Events to a.Stream atomically with everything a carries (see
// Append). It returns once the append's transaction committed: durable, checked against
// the streams' versions and visible in the read models; the sealer puts it in the chain
// behind it (see the package doc).
func (s *Store) AppendWith(ctx context.Context, a Append) (AppendResult, error) {
	p, err := newPending(a.Idempotency, a.Stream, a.Expected, a.Events)
	if err == nil {
		err = p.setCondition(a.Condition, a.Statements)
	}
	if err != nil {
		return AppendResult{}, err
	}
	if s.cfg.Authenticator == nil {
		return AppendResult{}, errNoAuthenticator
	}
	if err := s.backlog.check(); err != nil {
		return AppendResult{}, err
	}
	out := s.appendRetrying(ctx, p)
	if out.conflict != "" {
		s.cfg.Observer.Conflict(out.conflict)
	}
	return out.res, out.err
}

var errNoAuthenticator = ledgererr.New(ledgererr.Internal, "the event store has no integrity key to authenticate events with; it does not append")

// newPending validates an append before it joins a batch, so that one caller's bad
// input can never fail a transaction shared with others.
func newPending(idem *Idempotency, stream string, expected int64, events []EventData) (*pendingAppend, error) {
	switch {
	case stream == "":
		return nil, ledgererr.New(ledgererr.Invalid, "stream id is required")
	case len(events) == 0:
		return nil, ledgererr.New(ledgererr.Invalid, "append needs at least one event")
	case len(events) > MaxAppendEvents:
		return nil, ledgererr.New(ledgererr.Invalid, "an append holds at most %d events, not %d", MaxAppendEvents, len(events))
	case expected < Unversioned:
		return nil, ledgererr.New(ledgererr.Invalid, "expected version %d is not valid", expected)
	}
	company := events[0].CompanyID
	for i, e := range events {
		switch {
		case e.Type == "":
			return nil, ledgererr.New(ledgererr.Invalid, "event %d has no type", i)
		case e.SchemaVersion < 1:
			return nil, ledgererr.New(ledgererr.Invalid, "event %d (%s) has no schema version", i, e.Type)
		case !json.Valid(e.Payload) || bytes.Contains(e.Payload, []byte(`\u0000`)):
			// PostgreSQL's jsonb refuses NUL characters; catch them here too.
			return nil, ledgererr.New(ledgererr.Invalid, "event %d (%s) payload is not valid JSON", i, e.Type)
		case e.CompanyID != company:
			return nil, ledgererr.New(ledgererr.Invalid, "events of one append must belong to one company")
		}
	}
	p := &pendingAppend{stream: stream, expected: expected, events: events, company: company}
	if idem != nil {
		if idem.Key == "" {
			return nil, ledgererr.New(ledgererr.Invalid, "idempotency key is empty")
		}
		cp := *idem
		if len(cp.RequestHash) == 0 {
			cp.RequestHash = requestHash(stream, expected, events)
		}
		p.idem = &cp
	}
	return p, nil
}

func (p *pendingAppend) setCondition(cond []StreamVersion, statements []Statement) error {
	for _, c := range cond {
		if c.Stream == "" || c.Version < NoStream {
			return ledgererr.New(ledgererr.Invalid, "append condition %q at %d is not valid", c.Stream, c.Version)
		}
	}
	for _, st := range statements {
		if st.SQL == "" {
			return ledgererr.New(ledgererr.Invalid, "an append statement needs SQL")
		}
	}
	p.also, p.statements = cond, statements
	return nil
}

func requestHash(stream string, expected int64, events []EventData) []byte {
	h := sha256.New()
	write := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	write([]byte(stream))
	write([]byte(fmt.Sprint(expected)))
	for _, e := range events {
		write([]byte(e.Type))
		write([]byte(fmt.Sprint(e.SchemaVersion)))
		write([]byte(e.CompanyID))
		write(e.Payload)
	}
	return h.Sum(nil)
}
