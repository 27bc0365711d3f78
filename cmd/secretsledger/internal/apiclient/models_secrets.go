package apiclient

import (
	"encoding/json"
	"strconv"
)

// Page is one page of a list: its items and the cursor of the next page (nil on the
// last).
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// Next is the next page's cursor, "" on the last page.
func (p Page[T]) Next() string {
	if p.NextCursor == nil {
		return ""
	}
	return *p.NextCursor
}

// VersionSelector is "latest" or a version number; a number is sent as a JSON number.
type VersionSelector string

// Latest selects a secret's latest version.
const Latest VersionSelector = "latest"

// Version selects one version.
func Version(n int) VersionSelector { return VersionSelector(strconv.Itoa(n)) }

// MarshalJSON writes a number as a JSON number, anything else as a string.
func (v VersionSelector) MarshalJSON() ([]byte, error) {
	if n, err := strconv.Atoi(string(v)); err == nil {
		return json.Marshal(n)
	}
	return json.Marshal(string(v))
}

// UnmarshalJSON takes a JSON number or a string.
func (v *VersionSelector) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*v = VersionSelector(strconv.FormatInt(n, 10))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*v = VersionSelector(s)
	return nil
}

// CreateSecret is the body of a secret's creation (schema CreateSecret).
type CreateSecret struct {
	Name               string `json:"name"`
	Key                string `json:"key,omitempty"`
	Description        string `json:"description,omitempty"`
	Provider           string `json:"provider,omitempty"`
	ManagedMode        string `json:"managedMode,omitempty"`
	Value              string `json:"value,omitempty"`
	ExternalRef        string `json:"externalRef,omitempty"`
	ProviderVersionRef string `json:"providerVersionRef,omitempty"`
	ProviderConfigID   string `json:"providerConfigId,omitempty"`
}

// RotateSecret is the body of a rotation (schema RotateSecret).
type RotateSecret struct {
	Value                 string `json:"value,omitempty"`
	ExternalRef           string `json:"externalRef,omitempty"`
	ProviderVersionRef    string `json:"providerVersionRef,omitempty"`
	ExpectedLatestVersion *int   `json:"expectedLatestVersion,omitempty"`
}

// UpdateSecret is the body of a secret's update (schema UpdateSecret): nil leaves a
// field as it is.
type UpdateSecret struct {
	Name             *string `json:"name,omitempty"`
	Key              *string `json:"key,omitempty"`
	Description      *string `json:"description,omitempty"`
	Status           *string `json:"status,omitempty"`
	ExternalRef      *string `json:"externalRef,omitempty"`
	ProviderConfigID *string `json:"providerConfigId,omitempty"`
}

// PurgeSecret is the body of a purge (schema PurgeSecret): the secret's id, again.
type PurgeSecret struct {
	Confirm string `json:"confirm"`
}

// Secret is a secret as the read model shows it (schema Secret).
type Secret struct {
	ID               string  `json:"id"`
	CompanyID        string  `json:"companyId"`
	Key              string  `json:"key"`
	Name             string  `json:"name"`
	Description      string  `json:"description"`
	Provider         string  `json:"provider"`
	Status           string  `json:"status"`
	ManagedMode      string  `json:"managedMode"`
	ExternalRef      *string `json:"externalRef"`
	ProviderConfigID *string `json:"providerConfigId"`
	LatestVersion    int64   `json:"latestVersion"`
	CreatedBy        string  `json:"createdBy"`
	CreatedAt        string  `json:"createdAt"`
	UpdatedAt        string  `json:"updatedAt"`
	LastResolvedAt   *string `json:"lastResolvedAt"`
	DeletedAt        *string `json:"deletedAt,omitempty"`
}

// SecretVersion is one version of a secret (schema Version).
type SecretVersion struct {
	SecretID           string  `json:"secretId"`
	Version            int64   `json:"version"`
	Status             string  `json:"status"`
	ProviderVersionRef *string `json:"providerVersionRef"`
	ExternalRef        *string `json:"externalRef"`
	Fingerprint        *string `json:"fingerprint"`
	CreatedBy          string  `json:"createdBy"`
	CreatedAt          string  `json:"createdAt"`
}

// Provider is a provider the deployment offers (schema Provider).
type Provider struct {
	ID                         string `json:"id"`
	Label                      string `json:"label"`
	SupportsManagedValues      bool   `json:"supportsManagedValues"`
	SupportsExternalReferences bool   `json:"supportsExternalReferences"`
	Configured                 bool   `json:"configured"`
	Status                     string `json:"status"`
}

// ProviderHealth is a provider's health (schema ProviderHealth).
type ProviderHealth struct {
	Provider string   `json:"provider"`
	OK       bool     `json:"ok"`
	Findings []string `json:"findings"`
}

// OK is the answer of a command that returns nothing else (schema OK).
type OK struct {
	OK bool `json:"ok"`
}
