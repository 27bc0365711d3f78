package events

import "testing"

// Golden JSON of the external-reference policy payloads: a diff here means the
// persisted format changed.
func TestGoldenExternalPolicyPayloads(t *testing.T) {
	checkGolden(t, map[string]any{
		"external_policy.set.v1": ExternalPolicySetV1{Prefixes: []string{"team-b/"}, References: []string{"legacy/db-password"},
			Regions: []string{"eu-west-1"}, Namespaces: []string{"team-b"}},
		"external_reference.refused.v1": ExternalReferenceRefusedV1{Operation: "link", Provider: "aws_secrets_manager",
			VaultID: "01JVAULT", ExternalRef: "prod/billing/db-password", Reason: "external_prefix_not_approved",
			Message: "prod/billing/db-password is not under a prefix approved for this company"},
	})
}
