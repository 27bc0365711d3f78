package events

// Stream id prefixes: a stream's id is its prefix followed by the id of what it records.
// Code that routes or parses stream ids uses these, never the literals.
// WARNING: persisted in ledger_events.stream_id.
const (
	SecretStreamPrefix          = "secret-"
	ConsumerStreamPrefix        = "consumer-"
	AccessStreamPrefix          = "access-"
	AgentKeyStreamPrefix        = "agent-key-"
	CompanyStreamPrefix         = "company-"
	EventSubscriberStreamPrefix = "event-subscriber-"
	VaultStreamPrefix           = "vaults-"
	ExternalPolicyStreamPrefix  = "external-policy-"
	ExternalRefusalStreamPrefix = "external-refusals-"
	LeakScanStreamPrefix        = "leak-scan-"
)

// Stream describes one kind of stream for the registry: its prefix, the function that
// names one, and the shape of its ids.
type Stream struct {
	Prefix  string
	Func    string // e.g. "events.SecretStream(secretID)"
	Pattern string // e.g. "secret-<secretId>"
}

// The kinds of stream, for the registry.
var (
	secretStream          = Stream{SecretStreamPrefix, "events.SecretStream(secretID)", "secret-<secretId>"}
	consumerStream        = Stream{ConsumerStreamPrefix, "events.ConsumerStream(company, targetType, targetID)", "consumer-<companyId>/<targetType>/<targetId>"}
	accessStream          = Stream{AccessStreamPrefix, "events.AccessStream(company, targetType, targetID)", "access-<companyId>/<targetType>/<targetId>"}
	agentKeyStream        = Stream{AgentKeyStreamPrefix, "events.AgentKeyStream(keyID)", "agent-key-<keyId>"}
	companyStream         = Stream{CompanyStreamPrefix, "events.CompanyStream(companyID)", "company-<companyId>"}
	eventSubscriberStream = Stream{EventSubscriberStreamPrefix, "events.EventSubscriberStream(id)", "event-subscriber-<subscriberId>"}
	vaultStream           = Stream{VaultStreamPrefix, "events.VaultStream(companyID)", "vaults-<companyId>"}
	externalPolicyStream  = Stream{ExternalPolicyStreamPrefix, "events.ExternalPolicyStream(companyID)", "external-policy-<companyId>"}
	externalRefusalStream = Stream{ExternalRefusalStreamPrefix, "events.ExternalRefusalStream(companyID)", "external-refusals-<companyId>"}
	leakScanStream        = Stream{LeakScanStreamPrefix, "events.LeakScanStream(companyID, scanID)", "leak-scan-<companyId>/<scanId>"}
)

// SecretStream is the stream id of a secret.
func SecretStream(secretID string) string { return SecretStreamPrefix + secretID }

// ConsumerStream is the stream of one consumer's bindings, env and freezes.
func ConsumerStream(companyID, targetType, targetID string) string {
	return ConsumerStreamPrefix + companyID + "/" + targetType + "/" + targetID
}

// AccessStream is the stream of one consumer's resolution attempts. Appends to it use
// no expected version of it, so resolutions never conflict with each other; they are
// conditional on the streams the resolution decided on (the agent key's, the
// consumer's, the company's and the bound secrets').
func AccessStream(companyID, targetType, targetID string) string {
	return AccessStreamPrefix + companyID + "/" + targetType + "/" + targetID
}

// AgentKeyStream is the stream of one agent key.
func AgentKeyStream(keyID string) string { return AgentKeyStreamPrefix + keyID }

// CompanyStream is the stream of one company's own facts (its freezes).
func CompanyStream(companyID string) string { return CompanyStreamPrefix + companyID }

// EventSubscriberStream is the stream of one NATS event subscriber.
func EventSubscriberStream(id string) string { return EventSubscriberStreamPrefix + id }

// VaultStream is the stream of all provider vaults of a company.
func VaultStream(companyID string) string { return VaultStreamPrefix + companyID }

// ExternalPolicyStream is the stream of one company's external-reference policy.
func ExternalPolicyStream(companyID string) string { return ExternalPolicyStreamPrefix + companyID }

// ExternalRefusalStream is the stream of one company's refused external references.
func ExternalRefusalStream(companyID string) string {
	return ExternalRefusalStreamPrefix + companyID
}

// LeakScanStream is the stream of one leak scan: its scan event and its findings, one
// append.
func LeakScanStream(companyID, scanID string) string {
	return LeakScanStreamPrefix + companyID + "/" + scanID
}
