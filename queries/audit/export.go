package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// ExportFormat names the export file format; the first line of every export says it.
// Version 2 leaves credential hashes out of events and attests the redacted events
// (redaction.go); verify --export reads both.
// WARNING: a file format: verify --export reads it.
const ExportFormat = "secretsledger-audit-export-v2"

// ExportFormatV1 is the format of exports written before credential hashes were left
// out: they verify as they are.
const ExportFormatV1 = "secretsledger-audit-export-v1"

// MaxExportEvents bounds one export; a longer timeline is exported in windows.
const MaxExportEvents = 1_000_000

// exportPage is the number of events read per query.
const exportPage = 5000

// ExportFilter selects a company's events in a window, optionally only those about one
// secret (its stream, its bindings and their removal, its resolution attempts).
type ExportFilter struct {
	CompanyID string
	Window    Window
	SecretID  string
}

// The export file is JSON lines: a header, one line per event, then the signed
// checkpoint that covers the last exported event (or a line saying there is none),
// then an end line.
// WARNING: field names are a file format.
type exportHeader struct {
	Kind         string     `json:"kind"` // "header"
	Format       string     `json:"format"`
	CompanyID    string     `json:"companyId"`
	SecretID     string     `json:"secretId,omitempty"`
	From         *time.Time `json:"from,omitempty"`
	To           *time.Time `json:"to,omitempty"`
	HeadPosition int64      `json:"headPosition"`
	ExportedAt   time.Time  `json:"exportedAt"`
	// RedactionKey is the public key of the attestations of redacted events.
	RedactionKey string `json:"redactionKey,omitempty"`
}

// ExportedEvent is one event line. Payload and Metadata are PostgreSQL's text of the
// stored jsonb, kept as strings so that re-hashing them offline hashes exactly what the
// log hashed; RecordedAt is in the hashed form too. Actor, RequestID, CorrelationID and
// CausationID repeat the metadata for readers and are not hashed separately.
type ExportedEvent struct {
	Kind          string `json:"kind"` // "event"
	Position      int64  `json:"position"`
	EventID       string `json:"eventId"`
	StreamID      string `json:"streamId"`
	StreamVersion int64  `json:"streamVersion"`
	Type          string `json:"type"`
	SchemaVersion int    `json:"schemaVersion"`
	CompanyID     string `json:"companyId"`
	Payload       string `json:"payload"`
	Metadata      string `json:"metadata"`
	RecordedAt    string `json:"recordedAt"`
	PrevHash      string `json:"prevHash"`
	Hash          string `json:"hash"`
	Actor         string `json:"actor,omitempty"`
	RequestID     string `json:"requestId,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	CausationID   string `json:"causationId,omitempty"`
	// Redacted says credential hashes (events.CredentialFields) were left out of
	// Payload; Attestation is then the exporting instance's signature that the event
	// with Hash is this one with them.
	Redacted    bool   `json:"redacted,omitempty"`
	Attestation string `json:"attestation,omitempty"`
}

type exportCheckpoint struct {
	Kind       string          `json:"kind"` // "checkpoint" or "no_checkpoint"
	Checkpoint json.RawMessage `json:"checkpoint,omitempty"`
	PublicKey  string          `json:"publicKey,omitempty"`
	Reason     string          `json:"reason,omitempty"`
}

type exportEnd struct {
	Kind         string `json:"kind"` // "end"
	Events       int64  `json:"events"`
	LastPosition int64  `json:"lastPosition"`
	// Complete is false when the export stopped at MaxExportEvents.
	Complete bool `json:"complete"`
}

// ExportSummary says what an export wrote.
type ExportSummary struct {
	Events       int64
	LastPosition int64
	Complete     bool
	// Checkpoint is the signed checkpoint written, nil when none covers the last event.
	Checkpoint *checkpoint.Checkpoint
}

// Export writes the timeline of f as JSON lines to w. A company the actor may not see
// is not found (before anything is written).
func (l Log) Export(ctx context.Context, a actor.Actor, f ExportFilter, w io.Writer) (ExportSummary, error) {
	var sum ExportSummary
	if err := f.Window.Validate(); err != nil {
		return sum, err
	}
	if err := requireBoard(a, f.CompanyID); err != nil {
		return sum, err
	}
	head, err := l.head(ctx)
	if err != nil {
		return sum, err
	}
	from, to := f.Window.sqlBounds()
	where, args, err := l.exportSelection(ctx, f, head, from, to)
	if err != nil {
		return sum, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	header := exportHeader{Kind: "header", Format: ExportFormat, CompanyID: f.CompanyID, SecretID: f.SecretID,
		From: from, To: to, HeadPosition: head, ExportedAt: time.Now().UTC()}
	if l.RedactionKey != nil {
		header.RedactionKey = checkpoint.PublicKeyText(l.RedactionKey.Public().(ed25519.PublicKey))
	}
	if err := enc.Encode(header); err != nil {
		return sum, err
	}
	sum.Complete = true
	if err := l.exportEvents(ctx, enc, where, args, &sum); err != nil {
		return sum, err
	}
	if err := l.exportTrailer(ctx, enc, &sum); err != nil {
		return sum, err
	}
	return sum, bw.Flush()
}

// exportSelection is the WHERE clause and its arguments selecting f's events up to
// head; the second argument is the position after which the next page starts.
func (l Log) exportSelection(ctx context.Context, f ExportFilter, head int64, from, to *time.Time) (string, []any, error) {
	where := `company_id = $1 AND position > $2 AND position <= $3 AND` + windowSQL(4)
	args := []any{f.CompanyID, int64(0), head, from, to}
	if f.SecretID != "" {
		ids, err := l.bindingIDs(ctx, f.CompanyID, f.SecretID, head)
		if err != nil {
			return "", nil, err
		}
		// A leak scan's findings name the secret in their payload, on the scan's stream.
		where += ` AND (stream_id = $6 OR (event_type IN ($9, $10, $12) AND payload ->> 'secretId' = $7)
			OR (event_type = $11 AND payload ->> 'bindingId' = ANY($8)))`
		args = append(args, events.SecretStream(f.SecretID), f.SecretID, ids, events.BindingCreated, events.SecretAccessed,
			events.BindingRemoved, events.SecretExposureReported)
	}
	return where, args, nil
}

// exportEvents writes the selected events a page at a time, stopping at
// MaxExportEvents, and counts them in sum.
func (l Log) exportEvents(ctx context.Context, enc *json.Encoder, where string, args []any, sum *ExportSummary) error {
	for {
		n := 0
		rows, err := l.DB.Query(ctx, `SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
			company_id, payload::text, metadata::text, recorded_at, prev_hash, hash, metadata
			FROM ledger_events WHERE `+where+` ORDER BY position LIMIT `+itoa(exportPage), args...)
		if err != nil {
			return dbError(err)
		}
		var e ExportedEvent
		var at time.Time
		var prev, hash []byte
		var meta struct {
			ActorType     string `json:"actorType"`
			ActorID       string `json:"actorId"`
			RequestID     string `json:"requestId"`
			CorrelationID string `json:"correlationId"`
			CausationID   string `json:"causationId"`
		}
		_, err = pgx.ForEachRow(rows, []any{&e.Position, &e.EventID, &e.StreamID, &e.StreamVersion, &e.Type, &e.SchemaVersion,
			&e.CompanyID, &e.Payload, &e.Metadata, &at, &prev, &hash, &meta}, func() error {
			if sum.Events >= MaxExportEvents {
				sum.Complete = false
				return errStop
			}
			e.Kind, e.RecordedAt = "event", eventstore.RecordedAtText(at)
			e.PrevHash, e.Hash = hex.EncodeToString(prev), hex.EncodeToString(hash)
			e.Actor = actorOf(eventstore.Metadata{ActorType: meta.ActorType, ActorID: meta.ActorID})
			e.RequestID, e.CorrelationID, e.CausationID = meta.RequestID, meta.CorrelationID, meta.CausationID
			e.Redacted, e.Attestation = false, ""
			l.redact(&e, prev, hash, at)
			n++
			sum.Events++
			sum.LastPosition = e.Position
			return enc.Encode(e)
		})
		if errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			return dbError(err)
		}
		if n < exportPage {
			return nil
		}
		args[1] = sum.LastPosition
	}
}

// exportTrailer writes the checkpoint that covers the last exported event (or why there
// is none) and the end line.
func (l Log) exportTrailer(ctx context.Context, enc *json.Encoder, sum *ExportSummary) error {
	cp, pub, err := l.coveringCheckpoint(ctx, sum.LastPosition)
	if err != nil {
		return err
	}
	line := exportCheckpoint{Kind: "no_checkpoint", Reason: "no signed checkpoint covers the last exported position yet"}
	if cp != nil {
		line = exportCheckpoint{Kind: "checkpoint", Checkpoint: cp.MarshalLine(), PublicKey: pub}
		sum.Checkpoint = cp
	} else if sum.Events == 0 {
		line.Reason = "no events exported"
	}
	if err := enc.Encode(line); err != nil {
		return err
	}
	return enc.Encode(exportEnd{Kind: "end", Events: sum.Events, LastPosition: sum.LastPosition, Complete: sum.Complete})
}

var errStop = errors.New("audit: export limit reached")

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// bindingIDs are the ids of every binding of secret (to find their removals, which
// do not name the secret).
func (l Log) bindingIDs(ctx context.Context, company, secret string, head int64) ([]string, error) {
	rows, err := l.DB.Query(ctx, `SELECT payload ->> 'bindingId' FROM ledger_events WHERE event_type = $4
		AND payload ->> 'secretId' = $1 AND company_id = $2 AND position <= $3`, secret, company, head, events.BindingCreated)
	if err != nil {
		return nil, dbError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if ids == nil {
		ids = []string{}
	}
	return ids, dbError(err)
}

// coveringCheckpoint is the checkpoint at exactly position if there is one (it anchors
// the last exported event itself), else the newest one after it; nil when none covers
// it.
func (l Log) coveringCheckpoint(ctx context.Context, position int64) (*checkpoint.Checkpoint, string, error) {
	if position == 0 {
		return nil, "", nil
	}
	var cp checkpoint.Checkpoint
	var pub string
	err := l.DB.QueryRow(ctx, `SELECT position, hash, recorded_at, instance_id, signature, public_key FROM ledger_checkpoints
		WHERE position >= $1 ORDER BY (position = $1) DESC, position DESC LIMIT 1`, position).
		Scan(&cp.Position, &cp.Hash, &cp.RecordedAt, &cp.InstanceID, &cp.Signature, &pub)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", dbError(err)
	}
	return &cp, pub, nil
}
