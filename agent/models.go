package agent

// ResolveRequest is the body of a resolution (schema Resolve). No ConfigPaths: every
// binding and plain env entry of the key's consumer.
type ResolveRequest struct {
	ConfigPaths []string `json:"configPaths,omitempty"`
	RunID       string   `json:"runId,omitempty"`
	IssueID     string   `json:"issueId,omitempty"`
}

// Resolution is the values the consumer resolved and how each went (schema Resolution):
// values by env key and by config path, and a manifest entry per config path.
type Resolution struct {
	Env      map[string]string `json:"env"`
	Values   map[string]string `json:"values"`
	Manifest []ManifestEntry   `json:"manifest"`
}

// ManifestEntry is one config path of a resolution (schema ManifestEntry): which secret
// and version it came from and the outcome, never the value.
type ManifestEntry struct {
	ConfigPath   string `json:"configPath"`
	EnvKey       string `json:"envKey,omitempty"`
	SecretID     string `json:"secretId,omitempty"`
	SecretKey    string `json:"secretKey,omitempty"`
	Version      int64  `json:"version,omitempty"`
	Provider     string `json:"provider,omitempty"`
	Outcome      string `json:"outcome"`
	Required     bool   `json:"required"`
	Source       string `json:"source,omitempty"`
	ProviderCode string `json:"providerCode,omitempty"`
}

// OutcomeResolved is the outcome of a path that resolved to a value.
const OutcomeResolved = "resolved"

// RedactRequest is the body of a redaction (schema Redact): Text is required, "" included.
type RedactRequest struct {
	Text    string `json:"text"`
	RunID   string `json:"runId,omitempty"`
	IssueID string `json:"issueId,omitempty"`
}

// Redaction is a text masked of the consumer's values (schema Redaction): Masked are the
// keys whose values were looked for, Skipped those too short to be.
type Redaction struct {
	Text    string   `json:"text"`
	Masked  []string `json:"masked"`
	Skipped []string `json:"skipped"`
}

// Changes is one answer of the change feed (schema RuntimeChanges): the position it
// covers (ask from it next) and the events after the position asked from that may change
// the key's resolution, metadata only.
type Changes struct {
	Position int64    `json:"position"`
	Changes  []Change `json:"changes"`
}

// Change is one event that may change the key's resolution (schema RuntimeChange).
type Change struct {
	Position   int64  `json:"position"`
	Type       string `json:"type"`
	StreamKind string `json:"streamKind"`
	SecretID   string `json:"secretId,omitempty"`
}
