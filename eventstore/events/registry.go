package events

import (
	"encoding/json"
	"reflect"
	"slices"
)

// Type is the registry entry of one event type: everything else about event types
// (Decode, New, the golden tests, the catalogue in docs/events.md and the
// exhaustiveness tests of folds and projections) is drawn from it.
type Type struct {
	// Name is the persisted event_type.
	Name string
	// Stream is the kind of stream events of the type are appended to.
	Stream Stream
	// Versions are the schema versions Decode accepts, oldest first; the last is the
	// current one, the shape Decode returns.
	Versions []Version
}

// Version is one schema version of an event type.
type Version struct {
	Schema int
	// Sample is the version's golden sample (testdata/<name>.v<schema>.json); its Go
	// type is the version's payload type.
	Sample any
	// upcast decodes an older version's JSON into the current payload; nil for the
	// current version.
	upcast func(json.RawMessage) (any, error)
}

// Current is the version Decode returns and the ledger writes.
func (t Type) Current() Version { return t.Versions[len(t.Versions)-1] }

// Payload is the Go type of the current payload (Decode returns a pointer to it).
func (t Type) Payload() reflect.Type { return reflect.TypeOf(t.Current().Sample) }

// version returns the entry of a schema version.
func (t Type) version(schema int) (Version, bool) {
	for _, v := range t.Versions {
		if v.Schema == schema {
			return v, true
		}
	}
	return Version{}, false
}

func v1(sample any) []Version { return []Version{{Schema: 1, Sample: sample}} }

func str(s string) *string { return &s }

var sampleVaultConfig = map[string]string{"region": "eu-west-1", "namespace": "prod-eu", "kmsKeyId": "alias/ledger"}

// registry is every event type of the ledger, in catalogue order.
var registry = []Type{
	{SecretCreated, secretStream, v1(SecretCreatedV1{SecretID: "01JSECRET", Name: "OpenAI", Key: "openai", Description: "prod key",
		Provider: "local_encrypted", ManagedMode: "paperclip_managed", ProviderVersionRef: "lev_01JREF", Fingerprint: "ab12"})},
	{SecretVersionAdded, secretStream, v1(SecretVersionAddedV1{SecretID: "01JSECRET", Version: 2, ProviderVersionRef: "lev_01JREF2", Fingerprint: "cd34"})},
	{SecretUpdated, secretStream, v1(SecretUpdatedV1{SecretID: "01JSECRET", Name: str("OpenAI prod"), Status: str("disabled")})},
	{SecretDeleted, secretStream, v1(SecretDeletedV1{SecretID: "01JSECRET"})},
	{SecretRestored, secretStream, v1(SecretRestoredV1{SecretID: "01JSECRET", Status: "active"})},
	{SecretPurged, secretStream, v1(SecretPurgedV1{SecretID: "01JSECRET"})},
	{BindingCreated, consumerStream, v1(BindingCreatedV1{BindingID: "01JBIND", SecretID: "01JSECRET", TargetType: "agent", TargetID: "agent-x",
		ConfigPath: "env.API_KEY", VersionSelector: "latest", Required: true, Label: "OpenAI"})},
	{BindingRemoved, consumerStream, v1(BindingRemovedV1{BindingID: "01JBIND", ConfigPath: "env.API_KEY"})},
	{ConsumerEnvSet, consumerStream, v1(ConsumerEnvSetV1{TargetType: "agent", TargetID: "agent-x", Env: map[string]EnvEntryV1{
		"LOG_LEVEL": {Type: "plain", ProviderVersionRef: "lev_01JREF", Fingerprint: "ef56"},
		"API_KEY":   {Type: "secret_ref", SecretID: "01JSECRET", Version: "latest"},
	}})},
	{AgentKeyIssued, agentKeyStream, []Version{
		{Schema: 1, Sample: AgentKeyIssuedV1{KeyID: "01JKEY", TargetType: "agent", TargetID: "agent-x", Label: "runner", TokenHash: "9f86d0"},
			upcast: upcastAgentKeyIssuedV1},
		{Schema: 2, Sample: AgentKeyIssuedV2{KeyID: "01JKEY", TargetType: "agent", TargetID: "agent-x", Label: "runner", TokenKeyedHash: "5b1c7e"}},
	}},
	{AgentKeyRevoked, agentKeyStream, v1(AgentKeyRevokedV1{KeyID: "01JKEY"})},
	{SecretAccessed, accessStream, v1(SecretAccessedV1{SecretID: "01JSECRET", Version: 2, TargetType: "agent", TargetID: "agent-x",
		ConfigPath: "env.API_KEY", RunID: "run-1", Outcome: "resolved"})},
	{CompanyFrozen, companyStream, v1(CompanyFrozenV1{Reason: "incident 42: leaked runner image"})},
	{CompanyUnfrozen, companyStream, v1(CompanyUnfrozenV1{Reason: "keys rotated"})},
	{ConsumerFrozen, consumerStream, v1(ConsumerFrozenV1{TargetType: "agent", TargetID: "agent-x", Reason: "suspicious reads"})},
	{ConsumerUnfrozen, consumerStream, v1(ConsumerUnfrozenV1{TargetType: "agent", TargetID: "agent-x", Reason: "new key issued"})},
	{VaultCreated, vaultStream, v1(VaultCreatedV1{VaultID: "01JVAULT", DisplayName: "AWS prod", Provider: "aws_secrets_manager",
		Status: "ready", Config: sampleVaultConfig})},
	{VaultUpdated, vaultStream, v1(VaultUpdatedV1{VaultID: "01JVAULT", DisplayName: str("AWS prod EU"), Config: &sampleVaultConfig})},
	{VaultDefaultSet, vaultStream, v1(VaultDefaultSetV1{VaultID: "01JVAULT", Provider: "aws_secrets_manager", PreviousDefaultID: "01JOLD"})},
	{VaultDisabled, vaultStream, v1(VaultDisabledV1{VaultID: "01JVAULT"})},
	{VaultHealthChecked, vaultStream, v1(VaultHealthCheckedV1{VaultID: "01JVAULT", HealthStatus: "error", Message: "access denied",
		Details: map[string]any{"region": "eu-west-1", "code": "AccessDeniedException"}, Status: "warning"})},
	{ExternalPolicySet, externalPolicyStream, v1(ExternalPolicySetV1{Prefixes: []string{"team-b/"}, References: []string{"legacy/db-password"},
		Regions: []string{"eu-west-1"}, Namespaces: []string{"team-b"}})},
	{ExternalReferenceRefused, externalRefusalStream, v1(ExternalReferenceRefusedV1{Operation: "link", Provider: "aws_secrets_manager",
		VaultID: "01JVAULT", ExternalRef: "prod/billing/db-password", Reason: "external_prefix_not_approved",
		Message: "prod/billing/db-password is not under a prefix approved for this company"})},
	{EventSubscriberIssued, eventSubscriberStream, v1(EventSubscriberIssuedV1{SubscriberID: "01JSUB", Label: "runner", PasswordHash: "$2a$10$abc"})},
	{EventSubscriberRevoked, eventSubscriberStream, v1(EventSubscriberRevokedV1{SubscriberID: "01JSUB"})},
	{LeakScanRecorded, leakScanStream, v1(LeakScanRecordedV1{ScanID: "01JSCAN", Source: "run 123 transcript", Bytes: 52311,
		ValuesChecked: 41, SkippedShort: 2, ExternalSkipped: 3, DecryptFailed: 1, Findings: 2})},
	{SecretExposureReported, leakScanStream, v1(SecretExposureReportedV1{SecretID: "01JSECRET", Version: 2, Encoding: "base64",
		ScanID: "01JSCAN", Source: "run 123 transcript", Occurrences: 3, Line: 120, Column: 17, Offset: 40211})},
}

// byName indexes the registry.
var byName = func() map[string]*Type {
	m := make(map[string]*Type, len(registry))
	for i := range registry {
		m[registry[i].Name] = &registry[i]
	}
	return m
}()

// Types returns the registry: every event type, in catalogue order.
func Types() []Type { return slices.Clone(registry) }
