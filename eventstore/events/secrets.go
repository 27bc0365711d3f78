package events

import (
	"encoding/json"
	"fmt"

	"github.com/secretsledger/secretsledger/eventstore"
)

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

// SecretStream is the stream id of a secret.
func SecretStream(secretID string) string { return "secret-" + secretID }

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

// schema is the schema version of every payload type that does not say otherwise.
const schema = 1

// versioned is a payload type of a later schema version.
type versioned interface{ schemaVersion() int }

// New encodes payload as an event of type typ for company, with its type's schema version.
func New(typ, company string, payload any, meta eventstore.Metadata) (eventstore.EventData, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("events: encode %s: %w", typ, err)
	}
	version := schema
	if v, ok := payload.(versioned); ok {
		version = v.schemaVersion()
	}
	return eventstore.EventData{Type: typ, SchemaVersion: version, CompanyID: company, Payload: b, Metadata: meta}, nil
}

// Decode decodes a recorded event's payload into the current shape, upcasting old
// schema versions.
func Decode(e eventstore.Event) (any, error) {
	if e.Type == AgentKeyIssued {
		return decodeAgentKeyIssued(e)
	}
	if e.SchemaVersion != schema {
		return nil, fmt.Errorf("events: %s at position %d has unknown schema version %d", e.Type, e.Position, e.SchemaVersion)
	}
	var p any
	switch e.Type {
	case SecretCreated:
		p = &SecretCreatedV1{}
	case SecretVersionAdded:
		p = &SecretVersionAddedV1{}
	case SecretUpdated:
		p = &SecretUpdatedV1{}
	case SecretDeleted:
		p = &SecretDeletedV1{}
	case SecretRestored:
		p = &SecretRestoredV1{}
	case SecretPurged:
		p = &SecretPurgedV1{}
	case BindingCreated:
		p = &BindingCreatedV1{}
	case BindingRemoved:
		p = &BindingRemovedV1{}
	case ConsumerEnvSet:
		p = &ConsumerEnvSetV1{}
	case AgentKeyRevoked:
		p = &AgentKeyRevokedV1{}
	case SecretAccessed:
		p = &SecretAccessedV1{}
	case CompanyFrozen:
		p = &CompanyFrozenV1{}
	case CompanyUnfrozen:
		p = &CompanyUnfrozenV1{}
	case ConsumerFrozen:
		p = &ConsumerFrozenV1{}
	case ConsumerUnfrozen:
		p = &ConsumerUnfrozenV1{}
	case EventSubscriberIssued:
		p = &EventSubscriberIssuedV1{}
	case EventSubscriberRevoked:
		p = &EventSubscriberRevokedV1{}
	case VaultCreated:
		p = &VaultCreatedV1{}
	case VaultUpdated:
		p = &VaultUpdatedV1{}
	case VaultDefaultSet:
		p = &VaultDefaultSetV1{}
	case VaultDisabled:
		p = &VaultDisabledV1{}
	case VaultHealthChecked:
		p = &VaultHealthCheckedV1{}
	case ExternalPolicySet:
		p = &ExternalPolicySetV1{}
	case ExternalReferenceRefused:
		p = &ExternalReferenceRefusedV1{}
	default:
		return nil, nil // an event type this binary does not know: consumers skip it
	}
	if err := json.Unmarshal(e.Payload, p); err != nil {
		return nil, fmt.Errorf("events: decode %s at position %d: %w", e.Type, e.Position, err)
	}
	return p, nil
}
