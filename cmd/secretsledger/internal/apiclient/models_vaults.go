package apiclient

import "encoding/json"

// CreateVault is the body of a vault's creation (schema CreateVault). Config is sent
// as the user wrote it, by key: the server, not the client, refuses a key it does not
// know (a credential-shaped one, say) with a message that says why.
type CreateVault struct {
	DisplayName string            `json:"displayName"`
	Provider    string            `json:"provider"`
	Config      map[string]string `json:"config,omitzero"`
	IsDefault   bool              `json:"isDefault,omitempty"`
}

// UpdateVault is the body of a vault's update (schema UpdateVault): an empty field is
// left as it is.
type UpdateVault struct {
	DisplayName *string           `json:"displayName,omitempty"`
	Provider    string            `json:"provider,omitempty"`
	Config      map[string]string `json:"config,omitempty"`
}

// Vault is a company's provider vault (schema Vault). Config is its routing metadata by
// key (string values, never a credential).
type Vault struct {
	ID              string            `json:"id"`
	CompanyID       string            `json:"companyId"`
	DisplayName     string            `json:"displayName"`
	Provider        string            `json:"provider"`
	Status          string            `json:"status"`
	IsDefault       bool              `json:"isDefault"`
	Config          map[string]string `json:"config"`
	HealthStatus    *string           `json:"healthStatus"`
	HealthCheckedAt *string           `json:"healthCheckedAt"`
	HealthMessage   *string           `json:"healthMessage"`
	// HealthDetails is what the last check found, as the server wrote it (its members
	// depend on the provider).
	HealthDetails json.RawMessage `json:"healthDetails"`
	DisabledAt    *string         `json:"disabledAt"`
	CreatedAt     string          `json:"createdAt"`
	UpdatedAt     string          `json:"updatedAt"`
}

// Company is what the ledger holds of one company (schema Company).
type Company struct {
	ID        string `json:"id"`
	Secrets   int64  `json:"secrets"`
	Bindings  int64  `json:"bindings"`
	AgentKeys int64  `json:"agentKeys"`
	Vaults    int64  `json:"vaults"`
}

// FreezeRequest is the body of a freeze (schema FreezeRequest).
type FreezeRequest struct {
	Reason string `json:"reason"`
}

// UnfreezeRequest is the body of an unfreeze (schema UnfreezeRequest).
type UnfreezeRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Freeze is a company's or a consumer's freeze (schema Freeze).
type Freeze struct {
	Frozen   bool    `json:"frozen"`
	Reason   *string `json:"reason"`
	FrozenAt *string `json:"frozenAt"`
	FrozenBy *string `json:"frozenBy"`
	Position int64   `json:"position"`
}

// ExternalPolicyRequest is the body of a company's external-reference policy (schema
// ExternalPolicyRequest).
type ExternalPolicyRequest struct {
	Prefixes   []string `json:"prefixes,omitempty"`
	References []string `json:"references,omitempty"`
	Regions    []string `json:"regions,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
	Version    *int64   `json:"version,omitempty"`
}

// ExternalPolicy is a company's external-reference policy (schema ExternalPolicy).
type ExternalPolicy struct {
	CompanyID        string   `json:"companyId"`
	Set              bool     `json:"set"`
	Prefixes         []string `json:"prefixes"`
	References       []string `json:"references"`
	Regions          []string `json:"regions"`
	Namespaces       []string `json:"namespaces"`
	InstancePrefixes []string `json:"instancePrefixes"`
	// InstanceVaultPrefixes are LEDGER_VAULT_EXTERNAL_PREFIXES, for vault references.
	InstanceVaultPrefixes []string `json:"instanceVaultPrefixes"`
	Version               int64    `json:"version"`
	SetAt                 *string  `json:"setAt"`
	SetBy                 *string  `json:"setBy"`
	Position              int64    `json:"position"`
}
