package apiclient

import "encoding/json"

// LedgerState is the log's head, newest checkpoint, verification and relay lag (schema
// LedgerState).
type LedgerState struct {
	Head         LedgerHead         `json:"head"`
	Checkpoint   *LedgerCheckpoint  `json:"checkpoint"`
	Verification LedgerVerification `json:"verification"`
	Relay        *LedgerRelay       `json:"relay"`
}

// LedgerHead is the newest event.
type LedgerHead struct {
	Position   int64   `json:"position"`
	Hash       *string `json:"hash"`
	RecordedAt *string `json:"recordedAt"`
}

// LedgerCheckpoint is the newest signed checkpoint.
type LedgerCheckpoint struct {
	Position       int64  `json:"position"`
	Hash           string `json:"hash"`
	RecordedAt     string `json:"recordedAt"`
	InstanceID     string `json:"instanceId"`
	PublicKey      string `json:"publicKey"`
	SignedAt       string `json:"signedAt"`
	SignatureValid bool   `json:"signatureValid"`
}

// LedgerVerification is the chain's verification from the newest checkpoint.
type LedgerVerification struct {
	OK        bool    `json:"ok"`
	From      int64   `json:"from"`
	To        int64   `json:"to"`
	Checked   int64   `json:"checked"`
	BrokenAt  int64   `json:"brokenAt"`
	Reason    *string `json:"reason"`
	CheckedAt string  `json:"checkedAt"`
}

// LedgerRelay is the NATS relay's cursor against the head.
type LedgerRelay struct {
	Cursor     int64   `json:"cursor"`
	Head       int64   `json:"head"`
	LagEvents  int64   `json:"lagEvents"`
	LagSeconds float64 `json:"lagSeconds"`
	UpdatedAt  string  `json:"updatedAt"`
}

// EventEnvelope is one event of a company's log (schema EventEnvelope).
type EventEnvelope struct {
	EventID       string          `json:"eventId"`
	Type          string          `json:"type"`
	SchemaVersion int64           `json:"schemaVersion"`
	Position      int64           `json:"position"`
	StreamID      string          `json:"streamId"`
	StreamVersion int64           `json:"streamVersion"`
	CompanyID     string          `json:"companyId"`
	RecordedAt    string          `json:"recordedAt"`
	ActorType     string          `json:"actorType"`
	ActorID       string          `json:"actorId"`
	RequestID     string          `json:"requestId"`
	Payload       json.RawMessage `json:"payload"`
}
