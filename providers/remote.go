package providers

import (
	"errors"
	"time"
)

// RemoteSecret is one entry of a provider's inventory: metadata only, never a value.
// Metadata is an allowlist: no ARN or account id, tag values, KMS key ids or
// descriptions.
type RemoteSecret struct {
	// Ref is what an external reference to the secret stores (AWS: its name).
	Ref string
	// Name is the secret's name at the provider.
	Name             string
	CreatedDate      *time.Time
	LastAccessedDate *time.Time
	LastChangedDate  *time.Time
	DeletedDate      *time.Time
	HasDescription   bool
	HasKMSKey        bool
	TagCount         int
	// Managed reports that the secret carries the ledger's managed-by tag: it is the
	// ledger's own, and never offered for import.
	Managed bool
}

// RemotePage is one page of a provider's inventory; NextToken is opaque, "" on the last.
type RemotePage struct {
	Secrets   []RemoteSecret
	NextToken string
}

// CodedError is implemented by provider errors that carry a finer provider code next
// to their ledgererr code (AWS: access_denied, throttled, …).
type CodedError interface {
	error
	ProviderCode() string
}

// ProviderCodeOf returns the provider code in err's chain, or "".
func ProviderCodeOf(err error) string {
	var ce CodedError
	if errors.As(err, &ce) {
		return ce.ProviderCode()
	}
	return ""
}

// Provider codes of the remote providers: the finer classification a provider failure
// carries next to its ledgererr code (ProviderCodeOf), one set for every remote provider
// so that clients and the resolution's retry rule read them alike.
// WARNING: persisted in secret.accessed events and shown in error bodies.
const (
	CodeAccessDenied        = "access_denied"        // 403
	CodeThrottled           = "throttled"            // 429
	CodeNotFound            = "not_found"            // 404
	CodeConflict            = "conflict"             // 409
	CodeInvalidRequest      = "invalid_request"      // 422
	CodeProviderUnavailable = "provider_unavailable" // 503
	CodeProviderError       = "provider_error"       // 502
)

// CodeGuardrail is the provider code of a refusal by the ledger's guardrail: an external
// reference to a secret the ledger manages (under a managed namespace, or tagged as
// managed), or an AWS vault on an instance that is not configured for AWS.
// WARNING: persisted in secret.accessed events and shown in error bodies.
const CodeGuardrail = "provider_guardrail"

// GuardrailError is the cause of a guardrail refusal. Reason says why in words that are
// safe to show (it names a setting or a rule, never a value).
type GuardrailError struct{ Reason string }

// Error implements error.
func (e *GuardrailError) Error() string { return CodeGuardrail + ": " + e.Reason }

// ProviderCode implements CodedError.
func (e *GuardrailError) ProviderCode() string { return CodeGuardrail }
