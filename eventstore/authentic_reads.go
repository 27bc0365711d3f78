package eventstore

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// The reads that decisions are made from (ReadStream, ReadStreams, ReadAllExcept: the
// commands' memory and its tail) keep only events the writer authenticated when the
// store has an Authenticator: a row that someone with database credentials inserted is
// never folded into a decision, whatever its chain hash. Such a row stays in the log,
// where verify, doctor and the checkpoint signer report it; the stream it sits in
// conflicts on its next append (its version is taken), which fails closed. ReadAuthentic,
// which the relay publishes from, ends before the first such row instead.

// selectEventsWithMAC is selectEvents with the MAC (and no pending text: sealed events
// only).
const selectEventsWithMAC = `SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
	company_id, payload, metadata, recorded_at, prev_hash, hash, mac, NULL::text, NULL::text FROM ledger_events `

// selectLogWithMAC is selectEventsWithMAC over every committed event, sealed or still
// waiting for the sealer (ledger_log): what a decision must read to see the appends
// acknowledged before it. An event the sealer numbers in its stream reads as version 0
// until it is sealed.
const selectLogWithMAC = `SELECT position, event_id, stream_id, coalesce(stream_version, 0), event_type, schema_version,
	company_id, payload, metadata, recorded_at, prev_hash, hash, mac, sent_payload, sent_metadata FROM ledger_log `

// legacyCache caches ledger_integrity.legacy_through, which never changes once the
// migration that made it ran; -1 until read.
type legacyCache struct{ v atomic.Int64 }

// readMACs returns the store's MAC check for the decision reads: nil (keep every event)
// without an Authenticator.
func (s *Store) readMACs(ctx context.Context) (*macCheck, error) {
	if s.cfg.Authenticator == nil {
		return nil, nil
	}
	legacy := s.legacy.v.Load()
	if legacy < 0 {
		var err error
		if legacy, err = s.LegacyThrough(ctx); err != nil {
			if errors.Is(err, errBeforeMACs) {
				return nil, nil
			}
			return nil, err
		}
		s.legacy.v.Store(legacy)
	}
	return &macCheck{auth: s.cfg.Authenticator, legacyThrough: legacy}, nil
}

// storedEvent is a row of selectEventsWithMAC as stored: the id and metadata as text,
// the MAC beside the event.
type storedEvent struct {
	Event
	id       string
	metadata []byte
	mac      []byte
	// sentPayload and sentMetadata are set for an event not sealed yet: the text its
	// writer's MAC covers.
	sentPayload, sentMetadata *string
}

func scanStored(row pgx.Row) (storedEvent, error) {
	var r storedEvent
	err := row.Scan(&r.Position, &r.id, &r.StreamID, &r.StreamVersion, &r.Type, &r.SchemaVersion,
		&r.CompanyID, &r.Payload, &r.metadata, &r.RecordedAt, &r.PrevHash, &r.Hash, &r.mac, &r.sentPayload, &r.sentMetadata)
	return r, err
}

// decode parses the id and metadata.
func (r storedEvent) decode() (Event, error) {
	e := r.Event
	var err error
	if e.EventID, err = ulid.ParseStrict(r.id); err != nil {
		return e, ledgererr.Wrap(err, ledgererr.Internal, "event at position %d has a malformed id", e.Position)
	}
	if e.Metadata, err = decodeMetadata(r.metadata); err != nil {
		return e, ledgererr.Wrap(err, ledgererr.Internal, "event at position %d has malformed metadata", e.Position)
	}
	return e, nil
}

// authenticStored reports whether r is what the writer wrote: at or below
// legacy_through, or with a hash that matches its stored content and a valid MAC of
// that hash. Checking the MAC alone would accept a row whose hash and MAC were copied
// from another event. It looks at the stored text only, so a malformed forged row is
// unauthenticated, never an error that stops a reader.
func (m *macCheck) authenticStored(r storedEvent) bool {
	if m == nil || (r.mac == nil && r.Position <= m.legacyThrough && r.sentPayload == nil) {
		return true
	}
	f := chainFields{position: r.Position, eventID: r.id, streamID: r.StreamID,
		streamVersion: r.StreamVersion, eventType: r.Type, schemaVersion: r.SchemaVersion, companyID: r.CompanyID,
		payload: r.Payload, metadata: r.metadata, recordedAt: r.RecordedAt}
	if r.sentPayload != nil && r.sentMetadata != nil { // not sealed yet: the writer's MAC of what it sent
		f.payload, f.metadata = []byte(*r.sentPayload), []byte(*r.sentMetadata)
		return r.mac != nil && m.auth.VerifyEventMAC(pendingHash(f), r.mac)
	}
	want := chainHash(r.PrevHash, f)
	return bytes.Equal(want, r.Hash) && m.authentic(r.Position, r.Hash, r.mac)
}

// ReadAuthentic returns up to limit events with position > after, in position order,
// ending before the first event the writer did not authenticate (every event without
// an Authenticator). A reader that publishes the log (the NATS relay) stops there, as
// the checkpoint signer does, until the row is dealt with. What this store's own sealer
// chained last it returns from memory (recentSealed).
func (s *Store) ReadAuthentic(ctx context.Context, after int64, limit int) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if evs, ok := s.recent.after(after, limit); ok {
		return evs, nil
	}
	macs, err := s.readMACs(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, selectEventsWithMAC+`WHERE position > $1 ORDER BY position LIMIT $2`, after, limit)
	return collectAuthentic(rows, err, macs, true)
}

// collectAuthentic collects rows of selectEventsWithMAC, leaving out the events macs
// does not authenticate, or with stop ending at the first of them.
func collectAuthentic(rows pgx.Rows, err error, macs *macCheck, stop bool) ([]Event, error) {
	if err != nil {
		return nil, storeError("read", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		r, err := scanStored(rows)
		if err != nil {
			return nil, storeError("read", err)
		}
		if !macs.authenticStored(r) {
			if stop {
				return out, nil
			}
			continue
		}
		e, err := r.decode()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, storeError("read", rows.Err())
}

// ReadStreamsSince returns up to limit events of the given streams with after <
// position <= until, in position order, leaving out the events the writer did not
// authenticate. A reader that follows a few streams (an agent's change feed) passes the
// head it read as until, as with ReadAllExcept.
func (s *Store) ReadStreamsSince(ctx context.Context, streams []string, after, until int64, limit int) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	macs, err := s.readMACs(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, selectEventsWithMAC+`WHERE stream_id = ANY($1) AND position > $2 AND position <= $3
		ORDER BY position LIMIT $4`, streams, after, until, limit)
	return collectAuthentic(rows, err, macs, false)
}
