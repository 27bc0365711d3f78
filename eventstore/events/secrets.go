package events

// Event types of the secret aggregate (stream "secret-<id>").
// WARNING: persisted names.
const (
	SecretCreated      = "secret.created"
	SecretVersionAdded = "secret.version_added"
	SecretUpdated      = "secret.updated"
	SecretDeleted      = "secret.deleted"
	SecretRestored     = "secret.restored"
	SecretPurged       = "secret.purged"
)

// SecretCreatedV1 records a new secret with its version 1. It never holds the value:
// ProviderVersionRef points at the provider's copy, Fingerprint is a keyed HMAC.
type SecretCreatedV1 struct {
	SecretID           string `json:"secretId"`
	Name               string `json:"name"`
	Key                string `json:"key"`
	Description        string `json:"description"`
	Provider           string `json:"provider"`
	ManagedMode        string `json:"managedMode"`
	ExternalRef        string `json:"externalRef,omitempty"`
	ProviderVersionRef string `json:"providerVersionRef,omitempty"`
	Fingerprint        string `json:"fingerprint,omitempty"`
	// ProviderConfigID is the company's provider vault holding the material; empty for
	// the deployment's instance of the provider.
	ProviderConfigID string `json:"providerConfigId,omitempty"`
	// Source is "remote_import" for an external reference linked by a remote import
	// (one event per imported secret; the metadata names the actor and the request).
	Source string `json:"source,omitempty"`
}

// SecretVersionAddedV1 records a rotation: Version becomes current.
type SecretVersionAddedV1 struct {
	SecretID           string `json:"secretId"`
	Version            int    `json:"version"`
	ExternalRef        string `json:"externalRef,omitempty"`
	ProviderVersionRef string `json:"providerVersionRef,omitempty"`
	Fingerprint        string `json:"fingerprint,omitempty"`
}

// SecretUpdatedV1 records changed metadata; nil fields did not change.
type SecretUpdatedV1 struct {
	SecretID    string  `json:"secretId"`
	Name        *string `json:"name,omitempty"`
	Key         *string `json:"key,omitempty"`
	Description *string `json:"description,omitempty"`
	Status      *string `json:"status,omitempty"`
}

// SecretDeletedV1 records a soft delete.
type SecretDeletedV1 struct {
	SecretID string `json:"secretId"`
}

// SecretRestoredV1 records an undelete; Status is the status the secret had before.
type SecretRestoredV1 struct {
	SecretID string `json:"secretId"`
	Status   string `json:"status"`
}

// SecretPurgedV1 records that the secret's material was destroyed (crypto-shredded).
type SecretPurgedV1 struct {
	SecretID string `json:"secretId"`
}
