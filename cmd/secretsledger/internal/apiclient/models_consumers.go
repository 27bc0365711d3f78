package apiclient

// CreateBinding is the body of a binding (schema CreateBinding).
type CreateBinding struct {
	SecretID        string          `json:"secretId"`
	TargetType      string          `json:"targetType"`
	TargetID        string          `json:"targetId"`
	ConfigPath      string          `json:"configPath"`
	VersionSelector VersionSelector `json:"versionSelector,omitempty"`
	Required        *bool           `json:"required,omitempty"`
	Label           string          `json:"label,omitempty"`
}

// Binding is a secret bound to a consumer at a config path (schema Binding).
type Binding struct {
	ID              string          `json:"id"`
	CompanyID       string          `json:"companyId"`
	SecretID        string          `json:"secretId"`
	TargetType      string          `json:"targetType"`
	TargetID        string          `json:"targetId"`
	ConfigPath      string          `json:"configPath"`
	VersionSelector VersionSelector `json:"versionSelector"`
	Required        bool            `json:"required"`
	Label           string          `json:"label"`
	CreatedBy       string          `json:"createdBy"`
	CreatedAt       string          `json:"createdAt"`
}

// The types of an env entry (EnvEntry.type).
const (
	EnvPlain     = "plain"
	EnvSecretRef = "secret_ref"
)

// PutEnv is the body of a consumer's whole env (schema PutEnv).
type PutEnv struct {
	Env map[string]EnvEntryInput `json:"env"`
}

// EnvEntryInput is one entry of an env to set (schema EnvEntryInput).
type EnvEntryInput struct {
	Type     string          `json:"type"`
	Value    *string         `json:"value,omitempty"`
	SecretID string          `json:"secretId,omitempty"`
	Version  VersionSelector `json:"version,omitempty"`
}

// Env is a consumer's env (schema Env); sensitive plain values are RedactedValue.
type Env struct {
	Env map[string]EnvEntry `json:"env"`
}

// EnvEntry is one entry of an env as read (schema EnvEntry).
type EnvEntry struct {
	Type     string `json:"type"`
	Value    string `json:"value,omitempty"`
	SecretID string `json:"secretId,omitempty"`
	Version  string `json:"version,omitempty"`
}

// IssueAgentKey is the body of an agent key's issue (schema IssueAgentKey).
type IssueAgentKey struct {
	TargetType string `json:"targetType"`
	TargetID   string `json:"targetId"`
	Label      string `json:"label,omitempty"`
}

// AgentKey is a new agent key, shown once (schema AgentKey).
type AgentKey struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// AgentKeyInfo is an agent key as listed, never its token (schema AgentKeyInfo).
type AgentKeyInfo struct {
	ID         string  `json:"id"`
	CompanyID  string  `json:"companyId"`
	TargetType string  `json:"targetType"`
	TargetID   string  `json:"targetId"`
	Label      string  `json:"label"`
	CreatedBy  string  `json:"createdBy"`
	CreatedAt  string  `json:"createdAt"`
	RevokedAt  *string `json:"revokedAt"`
}

// Resolve is the body of a resolution (schema Resolve).
type Resolve struct {
	ConfigPaths []string `json:"configPaths,omitempty"`
	RunID       string   `json:"runId,omitempty"`
	IssueID     string   `json:"issueId,omitempty"`
}

// Resolution is the values a consumer resolved and how each went (schema Resolution).
type Resolution struct {
	Env      map[string]string `json:"env"`
	Values   map[string]string `json:"values"`
	Manifest []ManifestEntry   `json:"manifest"`
}

// Redact is the body of a redaction (schema Redact): Text is required, "" included.
type Redact struct {
	Text    string `json:"text"`
	RunID   string `json:"runId,omitempty"`
	IssueID string `json:"issueId,omitempty"`
}

// Redaction is a text masked of the consumer's values (schema Redaction).
type Redaction struct {
	Text    string   `json:"text"`
	Masked  []string `json:"masked"`
	Skipped []string `json:"skipped"`
}

// ManifestEntry is one config path of a resolution (schema ManifestEntry).
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

// AccessEvent is one resolution attempt (schema AccessEvent).
type AccessEvent struct {
	ID         string  `json:"id"`
	Position   int64   `json:"position"`
	SecretID   string  `json:"secretId"`
	Version    *int64  `json:"version"`
	ActorType  string  `json:"actorType"`
	ActorID    string  `json:"actorId"`
	Consumer   string  `json:"consumer"`
	ConfigPath string  `json:"configPath"`
	RunID      *string `json:"runId"`
	IssueID    *string `json:"issueId"`
	Outcome    string  `json:"outcome"`
	ErrorCode  *string `json:"errorCode"`
	CreatedAt  string  `json:"createdAt"`
	Source     *string `json:"source"`
}

// IssueSubscriber is the body of an event subscriber's issue (schema IssueSubscriber).
type IssueSubscriber struct {
	Label string `json:"label,omitempty"`
}

// SubscriberCredentials are a new event subscriber's NATS credentials, shown once
// (schema SubscriberCredentials).
type SubscriberCredentials struct {
	URL          string `json:"url"`
	User         string `json:"user"`
	Creds        string `json:"creds"`
	ExpiresAt    string `json:"expiresAt"`
	SubscriberID string `json:"subscriberId"`
	CompanyID    string `json:"companyId"`
	InboxPrefix  string `json:"inboxPrefix"`
	Subjects     string `json:"subjects"`
}

// RevokedKeys is the agent keys one revocation of a consumer's keys revoked.
type RevokedKeys struct {
	Revoked int64    `json:"revoked"`
	KeyIDs  []string `json:"keyIds"`
}

// RuntimeChanges is an answer of the change feed (schema RuntimeChanges).
type RuntimeChanges struct {
	Position int64           `json:"position"`
	Changes  []RuntimeChange `json:"changes"`
}

// RuntimeChange is one event that may change the agent's resolution (schema RuntimeChange).
type RuntimeChange struct {
	Position   int64  `json:"position"`
	Type       string `json:"type"`
	StreamKind string `json:"streamKind"`
	SecretID   string `json:"secretId,omitempty"`
}
