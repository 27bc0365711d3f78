package apiclient

// AuditWindow is the time window an audit answer covers (schema AuditWindow).
type AuditWindow struct {
	From *string `json:"from"`
	To   *string `json:"to"`
}

// AuditVersionSpan is when a version was current (schema AuditVersionSpan).
type AuditVersionSpan struct {
	Version  int64   `json:"version"`
	From     string  `json:"from"`
	To       *string `json:"to"`
	Position int64   `json:"position,omitempty"`
}

// AuditStatusChange is one status a secret took (schema AuditStatusChange).
type AuditStatusChange struct {
	Status   string `json:"status"`
	At       string `json:"at"`
	Position int64  `json:"position"`
	Actor    string `json:"actor"`
}

// AuditBinding is a binding's life (schema AuditBinding).
type AuditBinding struct {
	BindingID       string             `json:"bindingId"`
	SecretID        string             `json:"secretId"`
	TargetType      string             `json:"targetType"`
	TargetID        string             `json:"targetId"`
	ConfigPath      string             `json:"configPath"`
	VersionSelector string             `json:"versionSelector"`
	CreatedAt       string             `json:"createdAt"`
	CreatedPosition int64              `json:"createdPosition"`
	CreatedBy       string             `json:"createdBy"`
	RemovedAt       *string            `json:"removedAt"`
	RemovedPosition *int64             `json:"removedPosition"`
	RemovedBy       *string            `json:"removedBy"`
	Versions        []AuditVersionSpan `json:"versions"`
}

// AuditReads sums a consumer's reads (schema AuditReads).
type AuditReads struct {
	Count           int64    `json:"count"`
	First           *string  `json:"first"`
	Last            *string  `json:"last"`
	Versions        []int64  `json:"versions"`
	RunIDs          []string `json:"runIds"`
	RunIDsTruncated bool     `json:"runIdsTruncated"`
}

// AuditFailures sums a consumer's refused reads of one outcome (schema AuditFailures).
type AuditFailures struct {
	Outcome     string   `json:"outcome"`
	Count       int64    `json:"count"`
	First       string   `json:"first"`
	Last        string   `json:"last"`
	ConfigPaths []string `json:"configPaths"`
}

// AuditAgentKey is an agent key's life (schema AuditAgentKey).
type AuditAgentKey struct {
	KeyID          string  `json:"keyId"`
	TargetType     string  `json:"targetType"`
	TargetID       string  `json:"targetId"`
	Label          string  `json:"label"`
	IssuedAt       string  `json:"issuedAt"`
	IssuedBy       string  `json:"issuedBy"`
	RevokedAt      *string `json:"revokedAt"`
	RevokedBy      *string `json:"revokedBy"`
	ActiveInWindow bool    `json:"activeInWindow"`
}

// AuditEnvKey is one key of an env as set (schema AuditEnvKey).
type AuditEnvKey struct {
	Key      string `json:"key"`
	Type     string `json:"type"`
	SecretID string `json:"secretId,omitempty"`
	Version  string `json:"version,omitempty"`
}

// SecretExposure is who could read a secret, and who did (schema SecretExposure).
type SecretExposure struct {
	SecretID  string              `json:"secretId"`
	CompanyID string              `json:"companyId"`
	Name      string              `json:"name"`
	Key       string              `json:"key"`
	Window    AuditWindow         `json:"window"`
	Position  int64               `json:"position"`
	Status    []AuditStatusChange `json:"status"`
	Versions  []AuditVersionSpan  `json:"versions"`
	Consumers []ExposureConsumer  `json:"consumers"`
	// ReportedExposures are the leak scans' findings of the secret.
	ReportedExposures []AuditReportedExposure `json:"reportedExposures"`
}

// ExposureConsumer is one consumer of a secret's exposure.
type ExposureConsumer struct {
	TargetType string          `json:"targetType"`
	TargetID   string          `json:"targetId"`
	Bindings   []AuditBinding  `json:"bindings"`
	Reads      AuditReads      `json:"reads"`
	Failures   []AuditFailures `json:"failures"`
	AgentKeys  []AuditAgentKey `json:"agentKeys"`
}

// ConsumerReach is what a consumer could read, and did (schema ConsumerReach).
type ConsumerReach struct {
	CompanyID  string           `json:"companyId"`
	TargetType string           `json:"targetType"`
	TargetID   string           `json:"targetId"`
	Window     AuditWindow      `json:"window"`
	Position   int64            `json:"position"`
	Secrets    []ReachedSecret  `json:"secrets"`
	Inline     AuditReads       `json:"inline"`
	Unbound    []AuditFailures  `json:"unbound"`
	Env        []ReachEnvChange `json:"env"`
	AgentKeys  []AuditAgentKey  `json:"agentKeys"`
}

// ReachedSecret is one secret a consumer could read.
type ReachedSecret struct {
	SecretID string              `json:"secretId"`
	Name     string              `json:"name"`
	Key      string              `json:"key"`
	Status   []AuditStatusChange `json:"status"`
	Bindings []AuditBinding      `json:"bindings"`
	Reads    AuditReads          `json:"reads"`
	Failures []AuditFailures     `json:"failures"`
}

// ReachEnvChange is one setting of a consumer's env.
type ReachEnvChange struct {
	At       string        `json:"at"`
	Position int64         `json:"position"`
	Actor    string        `json:"actor"`
	Keys     []AuditEnvKey `json:"keys"`
}

// AuditState is a company's state at a time or position (schema AuditState).
type AuditState struct {
	CompanyID         string               `json:"companyId"`
	At                *string              `json:"at"`
	RequestedPosition *int64               `json:"requestedPosition"`
	Position          int64                `json:"position"`
	Secrets           []AuditSecret        `json:"secrets"`
	Bindings          []AuditBinding       `json:"bindings"`
	Envs              []AuditEnv           `json:"envs"`
	AgentKeys         []AuditAgentKey      `json:"agentKeys"`
	Vaults            []AuditVault         `json:"vaults"`
	ExternalPolicy    *AuditExternalPolicy `json:"externalPolicy"`
}

// AuditSecret is a secret as it stood.
type AuditSecret struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Key             string `json:"key"`
	Provider        string `json:"provider"`
	Status          string `json:"status"`
	CurrentVersion  int64  `json:"currentVersion"`
	CreatedAt       string `json:"createdAt"`
	StatusChangedAt string `json:"statusChangedAt"`
}

// AuditEnv is a consumer's env as it stood.
type AuditEnv struct {
	TargetType string        `json:"targetType"`
	TargetID   string        `json:"targetId"`
	SetAt      string        `json:"setAt"`
	Keys       []AuditEnvKey `json:"keys"`
}

// AuditVault is a provider vault as it stood.
type AuditVault struct {
	ID          string `json:"id"`
	Provider    string `json:"provider"`
	DisplayName string `json:"displayName"`
	Status      string `json:"status"`
	IsDefault   bool   `json:"isDefault"`
	CreatedAt   string `json:"createdAt"`
}

// AuditExternalPolicy is the external-reference policy as it stood.
type AuditExternalPolicy struct {
	Prefixes   []string `json:"prefixes"`
	References []string `json:"references"`
	Regions    []string `json:"regions"`
	Namespaces []string `json:"namespaces"`
	SetAt      string   `json:"setAt"`
	SetBy      string   `json:"setBy"`
}
