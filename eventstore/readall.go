package eventstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// ReadRange returns up to limit events with after < position <= until, in position
// order, sealed or not (ledger_log: an event the sealer numbers in its stream has
// version 0 until sealed), reusing dst's storage. It is ReadAll for a reader that folds the whole log (a
// rebuild of the read models): it reads raw values (binary integers, timestamps and
// hashes; the JSON columns as text) the way Verify does, copies each page's bytes into
// one buffer instead of one allocation per field, and shares the repeated strings
// (event types, companies, streams, actors) across the page, so that reading a million
// events costs a fraction of what scanning them one field at a time does.
func ReadRange(ctx context.Context, db DB, after, until int64, limit int, dst []Event) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT position, event_id, stream_id, coalesce(stream_version, 0), event_type, schema_version,
			company_id, payload::text, metadata::text, recorded_at, prev_hash, hash
		FROM ledger_log WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`, after, until, limit)
	if err != nil {
		return nil, storeError("read", err)
	}
	defer rows.Close()
	for i, fd := range rows.FieldDescriptions() {
		if binaryRangeColumn[i] && fd.Format != pgx.BinaryFormatCode {
			return nil, fmt.Errorf("eventstore: read: column %s arrived in text format", fd.Name)
		}
	}
	dst = dst[:0]
	var arena []byte // this page's variable-length bytes; events slice into it
	type span struct{ payload, prev, hash [2]int }
	var spans []span
	shared := map[string]string{}
	intern := func(b []byte) string {
		if s, ok := shared[string(b)]; ok {
			return s
		}
		s := string(b)
		shared[s] = s
		return s
	}
	keep := func(b []byte) [2]int {
		at := len(arena)
		arena = append(arena, b...)
		return [2]int{at, len(arena)}
	}
	for rows.Next() {
		v := rows.RawValues()
		var e Event
		e.Position = int64(binary.BigEndian.Uint64(v[0]))
		if e.EventID, err = ulid.ParseStrict(string(v[1])); err != nil {
			return nil, ledgererr.Wrap(err, ledgererr.Internal, "event at position %d has a malformed id", e.Position)
		}
		e.StreamID = intern(v[2])
		e.StreamVersion = int64(binary.BigEndian.Uint64(v[3]))
		e.Type = intern(v[4])
		e.SchemaVersion = int(int32(binary.BigEndian.Uint32(v[5])))
		e.CompanyID = intern(v[6])
		if e.Metadata, err = decodeMetadataFast(v[8], intern); err != nil {
			return nil, ledgererr.Wrap(err, ledgererr.Internal, "event at position %d has malformed metadata", e.Position)
		}
		e.RecordedAt = pgEpoch.Add(time.Duration(int64(binary.BigEndian.Uint64(v[9]))) * time.Microsecond)
		spans = append(spans, span{keep(v[7]), keep(v[10]), keep(v[11])})
		dst = append(dst, e)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("read", err)
	}
	for i, s := range spans {
		dst[i].Payload = arena[s.payload[0]:s.payload[1]:s.payload[1]]
		dst[i].PrevHash = arena[s.prev[0]:s.prev[1]:s.prev[1]]
		dst[i].Hash = arena[s.hash[0]:s.hash[1]:s.hash[1]]
	}
	return dst, nil
}

// binaryRangeColumn marks the columns ReadRange decodes from PostgreSQL's binary format.
var binaryRangeColumn = [12]bool{0: true, 3: true, 5: true, 9: true, 10: true, 11: true}

// decodeMetadataFast decodes metadata as PostgreSQL prints a jsonb object of plain
// strings ({"actorId": "x", "actorType": "board"}), which is what encodeMetadata
// stores; anything else (an escape, a non-string value, an unknown shape) goes to
// encoding/json, so the result is always what decodeMetadata gives.
func decodeMetadataFast(b []byte, intern func([]byte) string) (Metadata, error) {
	var m Metadata
	rest, ok := bytes.CutPrefix(b, []byte("{"))
	if !ok || bytes.IndexByte(b, '\\') >= 0 {
		return decodeMetadata(b)
	}
	for {
		rest = bytes.TrimLeft(rest, " ")
		if len(rest) == 1 && rest[0] == '}' {
			return m, nil
		}
		key, after, ok := quoted(rest)
		if !ok {
			return decodeMetadata(b)
		}
		after, ok = bytes.CutPrefix(bytes.TrimLeft(after, " "), []byte(":"))
		if !ok {
			return decodeMetadata(b)
		}
		val, after, ok := quoted(bytes.TrimLeft(after, " "))
		if !ok {
			return decodeMetadata(b)
		}
		switch string(key) {
		case "actorType":
			m.ActorType = intern(val)
		case "actorId":
			m.ActorID = intern(val)
		case "requestId":
			m.RequestID = string(val)
		case "correlationId":
			m.CorrelationID = string(val)
		case "causationId":
			m.CausationID = string(val)
		case "idempotencyKey":
			m.IdempotencyKey = string(val)
		default:
			return decodeMetadata(b) // a field this version does not know: let encoding/json judge
		}
		rest = bytes.TrimLeft(after, " ")
		if r, ok := bytes.CutPrefix(rest, []byte(",")); ok {
			rest = r
		} else if len(rest) != 1 || rest[0] != '}' {
			return decodeMetadata(b)
		}
	}
}

// quoted splits a leading JSON string without escapes off b.
func quoted(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return nil, nil, false
	}
	return b[1 : 1+end], b[2+end:], true
}
