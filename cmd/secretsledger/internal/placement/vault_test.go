package placement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
	"github.com/secretsledger/secretsledger/queries"
)

// vaultFixture is a placer with a Vault session on the fake (namespace ops with a KV v2
// mount kv, the root token) whose factory records the configurations it builds.
type vaultFixture struct {
	fake   *vaultfake.Fake
	vaults *vaultTable
	p      *Placer
	mu     sync.Mutex
	built  []vaultkv.Config
}

func newVaultFixture(t *testing.T) *vaultFixture {
	t.Helper()
	fake := vaultfake.New(t)
	fake.AddNamespace("ops")
	fake.Mount("ops", "kv", 2)
	s, err := vaultkv.NewSession(vaultkv.SessionConfig{Address: fake.URL(), Auth: vaultkv.Auth{Method: vaultkv.AuthToken, Token: fake.RootToken()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	f := &vaultFixture{fake: fake, vaults: &vaultTable{m: map[string]queries.Vault{}}}
	f.p = &Placer{Vaults: f.vaults, Deployment: map[string]providers.Provider{}, DefaultProvider: providers.LocalEncrypted,
		VaultAddress: fake.URL(), VaultDefaults: vaultkv.Config{Namespace: "ops", Mount: "kv", Prefix: "paperclip", DeploymentID: "dep-1",
			Fingerprint: func(string, providers.Value) string { return "fp" }},
		Vault: func(cfg vaultkv.Config) (providers.Provider, error) {
			inst, err := vaultkv.New(cfg, s)
			if err != nil {
				return nil, err
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			f.built = append(f.built, cfg)
			return inst, nil
		}}
	t.Cleanup(f.p.Close)
	return f
}

func vaultVault(id string, cfg map[string]string) queries.Vault {
	return queries.Vault{ID: id, CompanyID: company, Provider: providers.HashiCorpVault, Status: commands.VaultReady, Config: cfg}
}

// A vault vault's instance is its config over the deployment's: namespace, mountPath
// (or the old mount), secretPathPrefix, and its id as the deployment id.
func TestVaultVaultInstance(t *testing.T) {
	t.Parallel()
	f := newVaultFixture(t)
	ctx := context.Background()
	f.vaults.set(vaultVault("01JVAULTA", map[string]string{"namespace": "team-a", "mountPath": "apps-kv", "secretPathPrefix": "ledger"}))
	f.vaults.set(vaultVault("01JVAULTB", map[string]string{"mount": "legacy", "address": strings.ToUpper(f.fake.URL()) + "/"}))
	f.vaults.set(vaultVault("01JVAULTC", nil))
	for _, id := range []string{"01JVAULTA", "01JVAULTB", "01JVAULTC"} {
		at, err := f.p.Place(ctx, actor.Actor{Type: actor.Board}, company, "", id)
		if err != nil || at.ProviderID != providers.HashiCorpVault || at.Provider == nil {
			t.Fatalf("%s: %+v %v", id, at, err)
		}
	}
	want := []vaultkv.Config{{Namespace: "team-a", Mount: "apps-kv", Prefix: "ledger", DeploymentID: "01JVAULTA"},
		{Namespace: "ops", Mount: "legacy", Prefix: "paperclip", DeploymentID: "01JVAULTB"},
		{Namespace: "ops", Mount: "kv", Prefix: "paperclip", DeploymentID: "01JVAULTC"}}
	f.mu.Lock()
	built := f.built
	f.mu.Unlock()
	if len(built) != len(want) {
		t.Fatalf("built %d instances", len(built))
	}
	for i, w := range want {
		b := built[i]
		if b.Namespace != w.Namespace || b.Mount != w.Mount || b.Prefix != w.Prefix || b.DeploymentID != w.DeploymentID {
			t.Errorf("instance %d: %+v, want %+v", i, b, w)
		}
	}
	// Built once per config.
	if _, err := f.p.Provider(ctx, providers.HashiCorpVault, "01JVAULTA"); err != nil || len(f.built) != 3 {
		t.Fatalf("a second instance for the same config: %v (%d)", err, len(f.built))
	}
}

// A vault vault naming another address than the session's, or on a deployment without
// a session, is refused with a clear EINVALID (never a call with the session's token).
func TestVaultVaultRefusals(t *testing.T) {
	t.Parallel()
	f := newVaultFixture(t)
	ctx := context.Background()
	f.vaults.set(vaultVault("01JELSEWHERE", map[string]string{"address": "https://attacker.example:8200"}))
	_, err := f.p.Provider(ctx, providers.HashiCorpVault, "01JELSEWHERE")
	if ledgererr.CodeOf(err) != ledgererr.Invalid || !strings.Contains(ledgererr.MessageOf(err), "config.address") ||
		strings.Contains(ledgererr.MessageOf(err), "attacker") || len(f.built) != 0 {
		t.Fatalf("another address: %v (built %d)", err, len(f.built))
	}
	f.vaults.set(vaultVault("01JBADMOUNT", map[string]string{"mountPath": "a//b"}))
	if _, err := f.p.Provider(ctx, providers.HashiCorpVault, "01JBADMOUNT"); ledgererr.CodeOf(err) != ledgererr.Invalid ||
		!strings.Contains(ledgererr.MessageOf(err), "config.mountPath") {
		t.Fatalf("a stored mount the rule refuses: %v", err)
	}
	off := &Placer{Vaults: f.vaults, Deployment: map[string]providers.Provider{}}
	f.vaults.set(vaultVault("01JFINE", nil))
	_, err = off.Provider(ctx, providers.HashiCorpVault, "01JFINE")
	if ledgererr.CodeOf(err) != ledgererr.Invalid || providers.ProviderCodeOf(err) != providers.CodeGuardrail {
		t.Fatalf("no session: %v", err)
	}
	if status, msg, _ := off.Check(ctx, commands.Vault{ID: "01JFINE", Provider: providers.HashiCorpVault}); status != "error" || !strings.Contains(msg, "Vault session") {
		t.Fatalf("health without a session: %s %s", status, msg)
	}
}

// The managed roots of the deployment's Vault configuration and of every vault vault are
// managed namespaces, in the name vault references are compared by; without a session
// there are none of vault's.
func TestVaultManagedNamespaces(t *testing.T) {
	t.Parallel()
	f := newVaultFixture(t)
	ctx := context.Background()
	f.vaults.set(vaultVault("01JVA", map[string]string{"namespace": "team-a", "mountPath": "apps-kv", "secretPathPrefix": "ledger"}))
	f.vaults.set(vaultVault("01JVB", nil))
	f.vaults.set(awsVault("01JAWS", map[string]string{"region": "us-east-1"}))
	got, err := f.p.ManagedNamespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ops/kv/paperclip/dep-1/", "team-a/apps-kv/ledger/01JVA/", "ops/kv/paperclip/01JVB/", "paperclip/01JAWS/"} {
		if !slices.Contains(got, want) {
			t.Errorf("managed namespaces %q lack %s", got, want)
		}
	}
	if !commands.UnderNamespace(vaultkv.RefName("team-a", "apps-kv", "ledger/01JVA/co/key"), got) {
		t.Errorf("a path under a vault vault's root is not managed")
	}
	off := &Placer{Vaults: f.vaults}
	got, err = off.ManagedNamespaces(ctx)
	if err != nil || len(got) != 1 || got[0] != "paperclip/01JAWS/" {
		t.Fatalf("without a session: %q %v", got, err)
	}
}

// A vault vault's health is its provider's, recorded with the vault's own routing only;
// the deployment's instance and the providers list follow the session.
func TestVaultHealthAndProviders(t *testing.T) {
	t.Parallel()
	f := newVaultFixture(t)
	ctx := context.Background()
	v := commands.Vault{ID: "01JVH", Provider: providers.HashiCorpVault, Config: map[string]string{"mountPath": "no-such-kv"}}
	status, msg, details := f.p.Check(ctx, v)
	if status != "error" || !strings.Contains(msg, "no-such-kv") || strings.Contains(msg, f.fake.URL()) ||
		details["deploymentId"] != "01JVH" || details["mountPath"] != "no-such-kv" || details["namespace"] != "ops" {
		t.Fatalf("check of a missing mount: %s %q %v", status, msg, details)
	}
	for _, d := range details {
		if strings.Contains(fmt.Sprint(d), "127.0.0.1") || strings.Contains(fmt.Sprint(d), f.fake.RootToken()) {
			t.Fatalf("details name the instance: %v", details)
		}
	}
	v.Config = map[string]string{"mountPath": "kv"} // a new config: a new instance
	if status, msg, _ := f.p.Check(ctx, v); status != "ok" {
		t.Fatalf("healthy vault: %s %s", status, msg)
	}
	if d := f.p.VaultsOnlyProviders(); len(d) != 1 || d[0].ID != providers.HashiCorpVault || !d[0].Configured || d[0].ComingSoon {
		t.Fatalf("vaults-only providers %+v", d)
	}
	inst, err := f.p.Vault(f.p.VaultDefaults)
	if err != nil {
		t.Fatal(err)
	}
	f.p.Deployment[providers.LocalEncrypted] = inst // any instance: the list's first
	f.p.Deployment[providers.HashiCorpVault] = inst
	if got := f.p.DeploymentProviders(); len(got) != 2 || len(f.p.VaultsOnlyProviders()) != 0 {
		t.Fatalf("deployment providers %d, vaults-only %v", len(got), f.p.VaultsOnlyProviders())
	}
}

// A vault vault whose mount can never hold its secrets (KV version 1) is refused when it
// is configured; a mount that is KV version 2, or a Vault that does not answer now,
// passes. (A path with no engine answers 403 like a policy that grants nothing, so it is
// left to the health check and the first write's 403.)
func TestProbeVaultRefusesAMountThatCanNeverWork(t *testing.T) {
	t.Parallel()
	f := newVaultFixture(t)
	f.fake.Mount("ops", "legacy", 1)
	ctx := context.Background()
	probe := func(cfg map[string]string) error {
		return f.p.ProbeVault(ctx, commands.Vault{ID: "VAULTPROBE", CompanyID: company, Provider: providers.HashiCorpVault, Config: cfg})
	}
	if err := probe(map[string]string{}); err != nil {
		t.Fatalf("the deployment's KV v2 mount: %v", err)
	}
	err := probe(map[string]string{"mountPath": "legacy"})
	if ledgererr.CodeOf(err) != ledgererr.Invalid || !strings.Contains(ledgererr.MessageOf(err), "KV version 1") {
		t.Fatalf("a KV v1 mount: %v", err)
	}
	f.fake.Sealed(true)
	if err := probe(map[string]string{"mountPath": "legacy"}); err != nil {
		t.Fatalf("a sealed Vault refused the configuration instead of leaving it to the health check: %v", err)
	}
	f.fake.Sealed(false)
	if err := f.p.ProbeVault(ctx, commands.Vault{ID: "AWSVAULT", Provider: providers.AWSSecretsManager}); err != nil {
		t.Fatalf("an AWS vault is not probed here: %v", err)
	}
}

// loggedVaults is the companies' authenticated log as placement reads it.
type loggedVaults map[string]queries.Vault

func (l loggedVaults) LoggedConfig(_ context.Context, companyID, vaultID string) (string, map[string]string, error) {
	v, ok := l[vaultID]
	if !ok || v.CompanyID != companyID {
		return "", nil, ledgererr.New(ledgererr.NotFound, "provider vault not found")
	}
	return v.Provider, v.Config, nil
}

// Someone with the runtime's database credentials edits a vault's row: its config (to
// send the company's secrets elsewhere), its company (to place another company's
// secrets in it), or its provider. Instances are built from the company's log, so the
// edited row reroutes nothing.
func TestAnEditedVaultRowReroutesNothing(t *testing.T) {
	t.Parallel()
	f := newVaultFixture(t)
	ctx := context.Background()
	logged := vaultVault("01JVAULTLOG", map[string]string{"mountPath": "kv"})
	f.p.Logged = loggedVaults{logged.ID: logged}
	edited := logged
	edited.Config = map[string]string{"mountPath": "kv", "secretPathPrefix": "stolen"}
	f.vaults.set(edited)
	if _, err := f.p.Place(ctx, actor.Actor{Type: actor.Board}, company, "", logged.ID); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	built := f.built
	f.mu.Unlock()
	if len(built) != 1 || built[0].Prefix != "paperclip" || built[0].DeploymentID != logged.ID {
		t.Fatalf("built %+v; want the logged config (the deployment's prefix)", built)
	}
	// The row moved to another company: that company's log has no such vault.
	moved := edited
	moved.CompanyID = "other-company"
	f.vaults.set(moved)
	if _, err := f.p.Place(ctx, actor.Actor{Type: actor.Board}, "other-company", "", logged.ID); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("a vault row moved to another company: %v", err)
	}
	// The row says another provider.
	aws := logged
	aws.Provider, aws.Config = providers.AWSSecretsManager, map[string]string{"region": "us-east-1"}
	f.vaults.set(aws)
	f.p.AWSVaults = true
	if _, err := f.p.Provider(ctx, providers.AWSSecretsManager, logged.ID); err == nil {
		t.Fatal("a vault row whose provider was changed built an instance")
	}
}
