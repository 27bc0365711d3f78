package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
)

// genesisHash is the prev_hash of the first event.
var genesisHash = make([]byte, sha256.Size)

// recordedAtLayout fixes the text form of recorded_at inside the hash: UTC, microseconds
// (PostgreSQL's timestamptz precision), so that what was hashed on append is exactly
// what is read back.
const recordedAtLayout = "2006-01-02T15:04:05.000000Z"

// chainFields are the parts of a row that the hash covers. Payload and metadata are the
// text PostgreSQL produces for the stored jsonb (jsonb normalises key order and
// spacing), so the hash covers what is stored, not what a client happened to send.
type chainFields struct {
	position      int64
	eventID       string
	streamID      string
	streamVersion int64
	eventType     string
	schemaVersion int
	companyID     string
	payload       []byte
	metadata      []byte
	recordedAt    time.Time
}

// chainHash returns SHA-256(prev_hash ‖ canonical bytes of the event). The canonical
// bytes are each field, length-prefixed, in a fixed order: unambiguous, and independent
// of any JSON library.
func chainHash(prev []byte, f chainFields) []byte {
	h := sha256.New()
	h.Write(prev)
	field := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field(strconv.AppendInt(nil, f.position, 10))
	field([]byte(f.eventID))
	field([]byte(f.streamID))
	field(strconv.AppendInt(nil, f.streamVersion, 10))
	field([]byte(f.eventType))
	field(strconv.AppendInt(nil, int64(f.schemaVersion), 10))
	field([]byte(f.companyID))
	field(f.payload)
	field(f.metadata)
	field([]byte(f.recordedAt.UTC().Format(recordedAtLayout)))
	return h.Sum(nil)
}

// VerifyReport is the outcome of walking the hash chain.
type VerifyReport struct {
	// Checked is the number of rows read.
	Checked int64
	// HeadPosition and HeadHash describe the last row that verified.
	HeadPosition int64
	HeadHash     []byte
	// BrokenAt is the first position where the chain breaks; 0 when intact.
	BrokenAt int64
	// Reason says why the chain breaks at BrokenAt.
	Reason string
}

// OK reports whether the whole chain verified.
func (r VerifyReport) OK() bool { return r.BrokenAt == 0 }

// verifyPage is the number of rows Verify reads per query; it bounds memory.
const verifyPage = 5000

// Verify walks the whole log in position order and recomputes every hash. It reports
// the first position that was edited (its hash no longer matches its content), whose
// predecessor is missing (a gap in positions), or whose prev_hash does not match the
// row before it (a deleted or reordered row).
func (s *Store) Verify(ctx context.Context) (VerifyReport, error) {
	rep := VerifyReport{HeadHash: genesisHash}
	for {
		rows, err := s.pool.Query(ctx, `
			SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
			       company_id, payload::text, metadata::text, recorded_at, prev_hash, hash
			FROM ledger_events WHERE position > $1 ORDER BY position LIMIT $2`,
			rep.HeadPosition, verifyPage)
		if err != nil {
			return rep, storeError("verify", err)
		}
		n := 0
		for rows.Next() {
			n++
			var f chainFields
			var payload, metadata string
			var prev, stored []byte
			if err := rows.Scan(&f.position, &f.eventID, &f.streamID, &f.streamVersion, &f.eventType,
				&f.schemaVersion, &f.companyID, &payload, &metadata, &f.recordedAt, &prev, &stored); err != nil {
				rows.Close()
				return rep, storeError("verify", err)
			}
			f.payload, f.metadata = []byte(payload), []byte(metadata)
			rep.Checked++
			if reason := checkLink(rep, f, prev, stored); reason != "" {
				rows.Close()
				rep.BrokenAt, rep.Reason = f.position, reason
				return rep, nil
			}
			rep.HeadPosition, rep.HeadHash = f.position, stored
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return rep, storeError("verify", err)
		}
		if n < verifyPage {
			return rep, nil
		}
	}
}

func checkLink(head VerifyReport, f chainFields, prev, stored []byte) string {
	switch {
	case f.position != head.HeadPosition+1:
		return fmt.Sprintf("position %d follows %d: rows are missing", f.position, head.HeadPosition)
	case !bytes.Equal(prev, head.HeadHash):
		return "prev_hash does not match the hash of the previous event (a row was removed or reordered)"
	case !bytes.Equal(chainHash(prev, f), stored):
		return "hash does not match the event's content (the row was changed)"
	}
	return ""
}
