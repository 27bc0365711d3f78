package events

// Outcomes of a config path's resolution (secret.accessed's outcome): OutcomeResolved,
// or why it was not, in the order resolution checks them.
// WARNING: persisted in secret.accessed events and the access read model.
const (
	OutcomeResolved        = "resolved"
	OutcomeCompanyFrozen   = "company_frozen"
	OutcomeConsumerFrozen  = "consumer_frozen"
	OutcomeBindingMissing  = "binding_missing"
	OutcomeSecretDeleted   = "secret_deleted"
	OutcomeSecretInactive  = "secret_inactive"
	OutcomeVersionMissing  = "version_missing"
	OutcomeVersionInactive = "version_inactive"
	OutcomeProviderError   = "provider_error"
	// OutcomeExternalNotApproved is a resolution the external-reference policy stopped
	// (also the reason of an external_reference.refused event).
	OutcomeExternalNotApproved = "external_prefix_not_approved"
)

// OutcomeFailed is the access read model's outcome of every attempt that did not
// resolve; its error code says why (one of the outcomes above).
const OutcomeFailed = "failed"

// FailureOutcomes are the outcomes of an attempt that did not resolve.
var FailureOutcomes = []string{OutcomeCompanyFrozen, OutcomeConsumerFrozen, OutcomeBindingMissing, OutcomeSecretDeleted,
	OutcomeSecretInactive, OutcomeVersionMissing, OutcomeVersionInactive, OutcomeProviderError, OutcomeExternalNotApproved}

// RedactedMarker stands, in answers, for the plain value of a sensitive env key; no
// secret may be stored as it.
const RedactedMarker = "***REDACTED***"
