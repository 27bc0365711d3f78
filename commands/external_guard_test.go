package commands

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

// staticNamespaces is a ManagedNamespaces of fixed namespaces.
type staticNamespaces []string

func (n staticNamespaces) ManagedNamespaces(context.Context) ([]string, error) { return n, nil }

// The guard refuses, at create, rotation and import, a reference under any managed
// namespace of the instance (not only the linking instance's own) and one tagged
// managed-by; a reference that becomes managed after it was linked stops resolving,
// recorded as a provider_guardrail access failure.
func TestExternalGuardRefusesManagedSecrets(t *testing.T) {
	t.Parallel()
	f, fake := awsFixture(t)
	f.cfg.Managed = staticNamespaces{"vaults/other-ns/"}
	ctx := context.Background()
	fake.Seed(awsfake.Seeded{Name: "vaults/other-ns/co-2/key", Value: "theirs"},
		awsfake.Seeded{Name: "anywhere/tagged", Value: "theirs", Tags: []awsfake.Tag{{Key: awssm.TagManagedBy, Value: "paperclip"}}},
		awsfake.Seeded{Name: "team/plain", Value: "mine"}, awsfake.Seeded{Name: "team/later", Value: "later"})
	link := func(name, ref string) (Result, error) {
		return f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: name, ManagedMode: ExternalReference,
			Provider: providers.AWSSecretsManager, ExternalRef: ref})
	}
	refused := func(what string, err error) {
		t.Helper()
		if ledgererr.CodeOf(err) != ledgererr.Invalid || providers.ProviderCodeOf(err) != providers.CodeGuardrail {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, ref := range []string{"vaults/other-ns/co-2/key", fake.ARN("vaults/other-ns/co-2/key"), "paperclip/dep/co/x",
		"anywhere/tagged", fake.ARN("anywhere/tagged")} {
		_, err := link("stolen", ref)
		refused("create "+ref, err)
	}
	res, err := f.h().Import(ctx, board, ImportSecrets{CompanyID: "co", Rows: []ImportRow{{ExternalRef: "vaults/other-ns/co-2/key"},
		{ExternalRef: "anywhere/tagged"}}})
	if err != nil || res.Errors != 2 || res.Rows[0].Reason != ReasonGuardrail || res.Rows[1].Reason != ReasonGuardrail {
		t.Fatalf("import: %+v %v", res, err)
	}
	plain, err := link("plain", "team/plain")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.h().Rotate(ctx, board, RotateSecret{SecretID: plain.SecretID, ExternalRef: "anywhere/tagged"})
	refused("rotate", err)

	later, err := link("later", "team/later")
	if err != nil {
		t.Fatal(err)
	}
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: later.SecretID, ConfigPath: "env.LATER"}); err != nil {
		t.Fatal(err)
	}
	agent := f.agentFor(t, x)
	if out, err := f.h().ResolveValues(ctx, agent, Resolve{}); err != nil || string(out.Env["LATER"].Reveal()) != "later" {
		t.Fatalf("before the tag: %v", err)
	}
	fake.SetTag("team/later", awssm.TagManagedBy, "paperclip")
	reads := valueReads(fake)
	if _, err := f.h().ResolveValues(ctx, agent, Resolve{}); err == nil {
		t.Fatal("a reference tagged managed-by resolved")
	}
	if valueReads(fake) != reads {
		t.Fatal("the refused reference was read")
	}
	var payload []byte
	if err := f.pool.QueryRow(ctx, `SELECT payload FROM ledger_log WHERE event_type = 'secret.accessed' ORDER BY position DESC LIMIT 1`).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	var accessed events.SecretAccessedV1
	if err := json.Unmarshal(payload, &accessed); err != nil || accessed.Outcome != ProviderError || accessed.ProviderCode != providers.CodeGuardrail {
		t.Fatalf("access event %s: %v", payload, err)
	}
}
