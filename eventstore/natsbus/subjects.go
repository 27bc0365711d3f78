package natsbus

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// Names shared with subscribers.
// WARNING: persisted in JetStream (stream name, subjects) and in issued credentials.
const (
	StreamName    = "LEDGER"
	SubjectPrefix = "ledger"
)

// EventSubjects are the subjects of every company's events: the LEDGER stream's.
// WARNING: existing streams are updated to it when the relay starts.
const EventSubjects = SubjectPrefix + ".*.>"

// CheckpointSubject is where signed checkpoints of the log's head are published, one
// JSON line (checkpoint.MarshalLine) per message. It has two tokens, so neither a
// company's filter (ledger.<companyId>.>) nor the LEDGER stream (EventSubjects) matches
// it: it is for live listeners; the database and the export file keep the checkpoints.
// WARNING: a contract with whoever keeps copies of them.
const CheckpointSubject = SubjectPrefix + ".checkpoints"

// Subject is where an event is published: ledger.<companyId>.<aggregate>.<event>, e.g.
// ledger.<companyId>.secret.version_added.
func Subject(e eventstore.Event) string {
	return SubjectPrefix + "." + e.CompanyID + "." + e.Type
}

// CompanySubjects is the subject filter of one company's events.
func CompanySubjects(companyID string) string { return SubjectPrefix + "." + companyID + ".>" }

// ValidCompanyToken reports whether a company id can be one subject token.
func ValidCompanyToken(id string) bool {
	return id != "" && !strings.ContainsAny(id, ".*> \t\r\n")
}

// Envelope is the published message: the event without anything secret (payloads never
// hold values, ciphertext or wrapped keys).
// WARNING: the JSON field names are the wire contract with subscribers.
type Envelope struct {
	EventID       string    `json:"eventId"`
	Type          string    `json:"type"`
	SchemaVersion int       `json:"schemaVersion"`
	Position      int64     `json:"position"`
	StreamID      string    `json:"streamId"`
	StreamVersion int64     `json:"streamVersion"`
	CompanyID     string    `json:"companyId"`
	RecordedAt    time.Time `json:"recordedAt"`
	// ActorType, ActorID and RequestID say who caused the event and in which request
	// (from the event's metadata; never a credential).
	ActorType string          `json:"actorType"`
	ActorID   string          `json:"actorId"`
	RequestID string          `json:"requestId"`
	Payload   json.RawMessage `json:"payload"`
}

// EnvelopeOf builds the envelope of a recorded event, without credential hashes.
func EnvelopeOf(e eventstore.Event) Envelope {
	return Envelope{EventID: e.EventID.String(), Type: e.Type, SchemaVersion: e.SchemaVersion, Position: e.Position,
		StreamID: e.StreamID, StreamVersion: e.StreamVersion, CompanyID: e.CompanyID, RecordedAt: e.RecordedAt,
		ActorType: e.Metadata.ActorType, ActorID: e.Metadata.ActorID, RequestID: e.Metadata.RequestID,
		Payload: withoutCredentials(e.Payload)}
}

func withoutCredentials(payload json.RawMessage) json.RawMessage {
	out, _ := events.WithoutCredentials(payload)
	return out
}
