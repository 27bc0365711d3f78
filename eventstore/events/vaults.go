package events

// Event types of provider vaults: every vault of one company is in one stream,
// "vaults-<companyId>", so that the rule "one default per company and provider" is
// settled by one append with the expected version, never by a race between streams.
// WARNING: persisted names.
const (
	VaultCreated       = "vault.created"
	VaultUpdated       = "vault.updated"
	VaultDefaultSet    = "vault.default_set"
	VaultDisabled      = "vault.disabled"
	VaultHealthChecked = "vault.health_checked"
)

// VaultCreatedV1 records a new provider vault. Config is routing metadata only (region,
// namespace, prefixes, tags), validated strictly per provider: never a credential.
type VaultCreatedV1 struct {
	VaultID     string            `json:"vaultId"`
	DisplayName string            `json:"displayName"`
	Provider    string            `json:"provider"`
	Status      string            `json:"status"` // ready | coming_soon
	Config      map[string]string `json:"config"`
}

// VaultUpdatedV1 records a changed display name or config; nil fields did not change.
// Config, when present, replaces the whole config; the vault's health check, which was
// of the old config, is then forgotten, and a vault in warning becomes ready again.
type VaultUpdatedV1 struct {
	VaultID     string             `json:"vaultId"`
	DisplayName *string            `json:"displayName,omitempty"`
	Config      *map[string]string `json:"config,omitempty"`
}

// VaultDefaultSetV1 makes a vault the default of its company and provider. The
// previous default, when there was one, stops being it in the same event.
type VaultDefaultSetV1 struct {
	VaultID           string `json:"vaultId"`
	Provider          string `json:"provider"`
	PreviousDefaultID string `json:"previousDefaultId,omitempty"`
}

// VaultDisabledV1 records a soft delete: the vault stays in lists with status
// disabled, and is no longer a default.
type VaultDisabledV1 struct {
	VaultID string `json:"vaultId"`
}

// VaultHealthCheckedV1 records a health check whose status differs from the one
// before (identical checks are not recorded). Status is the vault's status after it:
// ready for health ok, warning for warning or error. Details hold what the check
// found (region, namespace, ...), never a credential.
type VaultHealthCheckedV1 struct {
	VaultID      string         `json:"vaultId"`
	HealthStatus string         `json:"healthStatus"` // ok | warning | error
	Message      string         `json:"message"`
	Details      map[string]any `json:"details"`
	Status       string         `json:"status"`
}
