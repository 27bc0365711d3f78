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
