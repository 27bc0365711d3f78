package eventstore

import (
	"encoding/json"
	"time"

	"github.com/oklog/ulid/v2"
)

// Expected-version sentinels for Append.
const (
	// AnyVersion appends whatever the stream's current version is.
	AnyVersion int64 = -1
	// NoStream requires that the stream has no events yet.
	NoStream int64 = 0
	// Unversioned appends to a stream of records that no decision reads at a version
	// (an agent's access records, refusals), and that is only ever appended this way.
	// Such a stream has no version counter for appends to wait on, so appends to it
	// commit in parallel; the sealer numbers its events in position order, and
	// ReadStream reads them once sealed.
	Unversioned int64 = -2
)

// EventData is an event to append. Payload is encoded JSON produced by the event's
// codec; it must never hold a secret value, ciphertext or wrapped key.
type EventData struct {
	Type          string
	SchemaVersion int
	CompanyID     string
	Payload       json.RawMessage
	Metadata      Metadata
}

// Metadata says who caused an event and why.
type Metadata struct {
	ActorType      string
	ActorID        string
	RequestID      string
	CorrelationID  string
	CausationID    string
	IdempotencyKey string
}

// Event is a recorded event.
type Event struct {
	Position      int64
	EventID       ulid.ULID
	StreamID      string
	StreamVersion int64
	Type          string
	SchemaVersion int
	CompanyID     string
	Payload       json.RawMessage
	Metadata      Metadata
	RecordedAt    time.Time
	PrevHash      []byte
	Hash          []byte
}

// AppendResult is what one Append call wrote (or, for a repeated idempotent request,
// what the first call wrote).
type AppendResult struct {
	StreamID      string
	FirstPosition int64
	LastPosition  int64
	// StreamVersion is the stream's version after the append: the expected version to
	// pass to the next Append on this stream.
	StreamVersion int64
	// EventIDs are the ids of the events written by this call; empty when Replayed.
	EventIDs []ulid.ULID
	// Replayed is true when an idempotency key matched an earlier identical request
	// and nothing new was written.
	Replayed bool
}

// metadataJSON is the persisted form of Metadata.
// WARNING: these field names are stored in ledger_events.metadata.
type metadataJSON struct {
	ActorType      string `json:"actorType,omitempty"`
	ActorID        string `json:"actorId,omitempty"`
	RequestID      string `json:"requestId,omitempty"`
	CorrelationID  string `json:"correlationId,omitempty"`
	CausationID    string `json:"causationId,omitempty"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

func encodeMetadata(m Metadata) []byte {
	b, _ := json.Marshal(metadataJSON(m)) // cannot fail: only strings.
	return b
}

func decodeMetadata(b []byte) (Metadata, error) {
	var m metadataJSON
	err := json.Unmarshal(b, &m)
	return Metadata(m), err
}
