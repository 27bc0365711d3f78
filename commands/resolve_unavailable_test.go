package commands

import (
	"context"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// A required value whose provider is unavailable (its service failing, or for
// local_encrypted the ledger's database behind a reset link) is a refusal to retry:
// EUNAVAILABLE (503), not EINVALID (422), which told agents the binding itself could
// not resolve and made them give up. The access is still recorded as provider_error,
// and once the provider answers again the same resolution succeeds.
func TestAResolutionWhoseProviderIsUnavailableIsRetryable(t *testing.T) {
	t.Parallel()
	f, fake := awsFixture(t)
	ctx := context.Background()
	fake.Seed(awsfake.Seeded{Name: "team/flaky", Value: "flaky-value"})
	linked, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "flaky", ManagedMode: ExternalReference,
		Provider: providers.AWSSecretsManager, ExternalRef: "team/flaky"})
	if err != nil {
		t.Fatal(err)
	}
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: linked.SecretID, ConfigPath: "env.FLAKY"}); err != nil {
		t.Fatal(err)
	}
	agent := f.agentFor(t, x)
	for _, op := range []string{"GetSecretValue", "BatchGetSecretValue"} {
		fake.Inject(op, awsfake.ServiceError(), 8) // more than the SDK's retries
	}
	_, err = f.h().ResolveValues(ctx, agent, Resolve{})
	if ledgererr.CodeOf(err) != ledgererr.Unavailable || !strings.Contains(ledgererr.MessageOf(err), "provider_error") {
		t.Fatalf("resolution while the provider fails: %v (code %s)", err, ledgererr.CodeOf(err))
	}
	var outcome string
	if err := f.pool.QueryRow(ctx, `SELECT payload->>'outcome' FROM ledger_log WHERE event_type = 'secret.accessed'
		ORDER BY position DESC LIMIT 1`).Scan(&outcome); err != nil || outcome != ProviderError {
		t.Fatalf("recorded access: %q %v", outcome, err)
	}
	// Each refused resolution uses up some of the faults; then the provider answers.
	for range 20 {
		out, err := f.h().ResolveValues(ctx, agent, Resolve{})
		if err == nil {
			if string(out.Env["FLAKY"].Reveal()) != "flaky-value" {
				t.Fatal("resolved another value")
			}
			return
		}
		if ledgererr.CodeOf(err) != ledgererr.Unavailable {
			t.Fatalf("resolution while the provider fails: %v", err)
		}
	}
	t.Fatal("the resolution did not succeed once the provider answered again")
}
