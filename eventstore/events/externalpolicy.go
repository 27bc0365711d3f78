package events

// Event types of a company's external-reference policy: what an instance operator
// approved the company to link from outside the ledger (stream
// "external-policy-<companyId>"), and the link and import attempts refused for it
// (stream "external-refusals-<companyId>", apart so that a stream of refusals never
// moves the version a policy update is decided on).
// WARNING: persisted names.
const (
	ExternalPolicySet        = "external_policy.set"
	ExternalReferenceRefused = "external_reference.refused"
)

// ExternalPolicySetV1 replaces a company's whole external-reference policy. Prefixes
// approve every reference whose name starts with one; References approve exactly those
// references (the ones a company held when policies were introduced); Regions and
// Namespaces bound the company's AWS provider vaults. Empty lists approve nothing.
type ExternalPolicySetV1 struct {
	Prefixes   []string `json:"prefixes"`
	References []string `json:"references"`
	Regions    []string `json:"regions"`
	Namespaces []string `json:"namespaces"`
	// Upgrade marks the policy the ledger wrote itself for a company that held
	// external references before it had a policy.
	Upgrade bool `json:"upgrade,omitempty"`
}

// ExternalReferenceRefusedV1 records a link or remote import of an external reference
// that the company may not make. ExternalRef is the reference asked for (a name or ARN,
// never a value); Reason is the refusal's code and Message its safe message.
type ExternalReferenceRefusedV1 struct {
	Operation   string `json:"operation"` // link | import
	Provider    string `json:"provider"`
	VaultID     string `json:"vaultId,omitempty"`
	ExternalRef string `json:"externalRef"`
	Reason      string `json:"reason"`
	Message     string `json:"message"`
}
