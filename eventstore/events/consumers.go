package events

import (
	"encoding/json"
	"strings"
)

// Event types of consumers (stream "consumer-<company>/<targetType>/<targetId>"), agent
// keys (stream "agent-key-<id>") and secret access (stream "access-<company>/<targetType>/<targetId>").
// WARNING: persisted names.
const (
	BindingCreated  = "binding.created"
	BindingRemoved  = "binding.removed"
	ConsumerEnvSet  = "consumer.env_set"
	AgentKeyIssued  = "agent_key.issued"
	AgentKeyRevoked = "agent_key.revoked"
	SecretAccessed  = "secret.accessed"

	EventSubscriberIssued  = "event_subscriber.issued"
	EventSubscriberRevoked = "event_subscriber.revoked"
)

// EventSubscriberIssuedV1 records NATS credentials for one company's events;
// PasswordHash is bcrypt of a random password that is shown once.
type EventSubscriberIssuedV1 struct {
	SubscriberID string `json:"subscriberId"`
	Label        string `json:"label,omitempty"`
	PasswordHash string `json:"passwordHash"`
}

// EventSubscriberRevokedV1 revokes a subscriber.
type EventSubscriberRevokedV1 struct {
	SubscriberID string `json:"subscriberId"`
}

// Consumer identifies who receives values: one target of one company.
type Consumer struct {
	CompanyID  string
	TargetType string
	TargetID   string
}

// Stream is the consumer's stream.
func (c Consumer) Stream() string { return ConsumerStream(c.CompanyID, c.TargetType, c.TargetID) }

// EnvSecretID is the provider-side id under which the consumer's plain env values are
// encrypted (one data key per consumer).
// WARNING: persisted in local_secret_keys and in every such ciphertext's AAD.
func (c Consumer) EnvSecretID() string {
	return "env:" + c.CompanyID + "/" + c.TargetType + "/" + c.TargetID
}

// BindingCreatedV1 ties a secret to a consumer at a config path. VersionSelector is
// "latest" or a version number in decimal.
type BindingCreatedV1 struct {
	BindingID       string `json:"bindingId"`
	SecretID        string `json:"secretId"`
	TargetType      string `json:"targetType"`
	TargetID        string `json:"targetId"`
	ConfigPath      string `json:"configPath"`
	VersionSelector string `json:"versionSelector"`
	Required        bool   `json:"required"`
	Label           string `json:"label,omitempty"`
}

// BindingRemovedV1 removes a binding.
type BindingRemovedV1 struct {
	BindingID  string `json:"bindingId"`
	ConfigPath string `json:"configPath"`
}

// EnvEntryV1 is one key of a consumer env: a plain value (stored encrypted at the
// provider: only its reference and keyed fingerprint are here) or a secret reference.
type EnvEntryV1 struct {
	Type               string `json:"type"` // "plain" | "secret_ref"
	ProviderVersionRef string `json:"providerVersionRef,omitempty"`
	Fingerprint        string `json:"fingerprint,omitempty"`
	Empty              bool   `json:"empty,omitempty"` // a plain value that is the empty string
	SecretID           string `json:"secretId,omitempty"`
	Version            string `json:"version,omitempty"` // "latest" or a number
}

// ConsumerEnvSetV1 replaces a consumer's env.
type ConsumerEnvSetV1 struct {
	TargetType string                `json:"targetType"`
	TargetID   string                `json:"targetId"`
	Env        map[string]EnvEntryV1 `json:"env"`
}

// AgentKeyIssuedV1 is schema 1 of agent_key.issued: TokenHash is the bare SHA-256 of the
// random token (hex). Decode upcasts it to AgentKeyIssuedV2 with UnkeyedTokenHash set;
// the ledger writes schema 2 only.
type AgentKeyIssuedV1 struct {
	KeyID      string `json:"keyId"`
	TargetType string `json:"targetType"`
	TargetID   string `json:"targetId"`
	Label      string `json:"label,omitempty"`
	TokenHash  string `json:"tokenHash"`
}

// AgentKeyIssuedV2 records a new agent key. TokenKeyedHash is the token's hash keyed with
// the instance's integrity key (hex), which is kept outside the database, so that whoever
// can append to the log cannot record a hash that a token of their choosing matches. The
// token itself (256 random bits) is never stored.
type AgentKeyIssuedV2 struct {
	KeyID          string `json:"keyId"`
	TargetType     string `json:"targetType"`
	TargetID       string `json:"targetId"`
	Label          string `json:"label,omitempty"`
	TokenKeyedHash string `json:"tokenKeyedHash,omitempty"`
	// UnkeyedTokenHash is the bare SHA-256 of a schema 1 event, set by Decode only. It
	// may stand for a token only when the event is older than the log's authenticated
	// events (see commands): a later schema 1 event was not written by the ledger.
	UnkeyedTokenHash string `json:"-"`
}

// upcastAgentKeyIssuedV1 decodes schema 1 of agent_key.issued into AgentKeyIssuedV2.
func upcastAgentKeyIssuedV1(payload json.RawMessage) (any, error) {
	var v1 AgentKeyIssuedV1
	if err := json.Unmarshal(payload, &v1); err != nil {
		return nil, err
	}
	return &AgentKeyIssuedV2{KeyID: v1.KeyID, TargetType: v1.TargetType, TargetID: v1.TargetID, Label: v1.Label,
		UnkeyedTokenHash: v1.TokenHash}, nil
}

// AgentKeyRevokedV1 revokes an agent key.
type AgentKeyRevokedV1 struct {
	KeyID string `json:"keyId"`
}

// SecretAccessedV1 records one resolution attempt, successful or not. It never holds
// the value. SecretID is empty when no binding existed for the config path.
type SecretAccessedV1 struct {
	SecretID   string `json:"secretId,omitempty"`
	Version    int    `json:"version,omitempty"`
	TargetType string `json:"targetType"`
	TargetID   string `json:"targetId"`
	ConfigPath string `json:"configPath"`
	// ConfigPaths holds the paths of one request that had no binding, recorded as one
	// event (ConfigPath is then empty).
	ConfigPaths []string `json:"configPaths,omitempty"`
	RunID       string   `json:"runId,omitempty"`
	IssueID     string   `json:"issueId,omitempty"`
	Outcome     string   `json:"outcome"` // "resolved" or the error code
	// Source is "inline" when the value was a plain env entry, not a secret.
	Source string `json:"source,omitempty"`
	// ProviderCode is the provider's finer code of a provider_error (AWS: access_denied,
	// throttled, not_found, invalid_request, …). It never holds a provider message.
	ProviderCode string `json:"providerCode,omitempty"`
}

// Paths is the config path of the access, or the paths of a grouped failure joined by
// commas (config paths never contain one).
func (p SecretAccessedV1) Paths() string {
	if len(p.ConfigPaths) > 0 {
		return strings.Join(p.ConfigPaths, ",")
	}
	return p.ConfigPath
}
