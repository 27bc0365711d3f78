package commands

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

const deploymentVaultAddr = "https://vault.example:8200"

// With a Vault session, a vault vault's address is the deployment's or none, and a
// token limited to companies sets no routing key; without one, anything passes (drafts
// are never called).
func TestDecideVaultDeployment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     map[string]string
		addr    string
		limited bool
		code    ledgererr.Code
		reason  string
	}{
		{"no session", map[string]string{"address": "https://elsewhere.example"}, "", true, "", ""},
		{"the deployment's address", map[string]string{"address": "HTTPS://Vault.Example:8200/"}, deploymentVaultAddr, false, "", ""},
		{"another address", map[string]string{"address": "https://elsewhere.example:8200"}, deploymentVaultAddr, false, ledgererr.Invalid, ""},
		{"another port", map[string]string{"address": "https://vault.example:8201"}, deploymentVaultAddr, false, ledgererr.Invalid, ""},
		{"instance-wide routing", map[string]string{"namespace": "team", "mountPath": "kv", "secretPathPrefix": "p"}, deploymentVaultAddr, false, "", ""},
		{"limited, nothing set", map[string]string{}, deploymentVaultAddr, true, "", ""},
		{"limited address", map[string]string{"address": deploymentVaultAddr}, deploymentVaultAddr, true, ledgererr.Invalid, ReasonVaultNamespaceRefused},
		{"limited namespace", map[string]string{"namespace": "other-team"}, deploymentVaultAddr, true, ledgererr.Invalid, ReasonVaultNamespaceRefused},
		{"limited mountPath", map[string]string{"mountPath": "kv"}, deploymentVaultAddr, true, ledgererr.Invalid, ReasonVaultNamespaceRefused},
		{"limited legacy mount", map[string]string{"mount": "kv"}, deploymentVaultAddr, true, ledgererr.Invalid, ReasonVaultNamespaceRefused},
		{"limited prefix", map[string]string{"secretPathPrefix": "shared"}, deploymentVaultAddr, true, ledgererr.Invalid, ReasonVaultNamespaceRefused},
	} {
		err := decideVaultDeployment(VaultProviderHashiCorp, tc.cfg, nil, tc.addr, tc.limited)
		if ledgererr.CodeOf(err) != tc.code && !(tc.code == "" && err == nil) || ledgererr.ReasonOf(err) != tc.reason {
			t.Errorf("%s: %v (reason %q), want %s %q", tc.name, err, ledgererr.ReasonOf(err), tc.code, tc.reason)
		}
		if err != nil && strings.Contains(ledgererr.MessageOf(err), "vault.example") {
			t.Errorf("%s: the refusal echoes an address: %v", tc.name, err)
		}
	}
	if err := decideVaultDeployment(providers.AWSSecretsManager, map[string]string{"namespace": "x"}, nil, deploymentVaultAddr, true); err != nil {
		t.Fatalf("an AWS vault is not decided here: %v", err)
	}
}

// The vault config keys: mountPath (and its old name mount, never both), namespace and
// secretPathPrefix by the provider's path rule, slashes around them dropped.
func TestVaultConfigKeys(t *testing.T) {
	t.Parallel()
	raw := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	got, err := checkVaultConfig(VaultProviderHashiCorp, raw(`{"address": "https://vault.example:8200/", "namespace": "/team/a/",
		"mountPath": "kv/", "secretPathPrefix": "apps/paperclip"}`))
	if err != nil || got["address"] != deploymentVaultAddr || got["namespace"] != "team/a" || got["mountPath"] != "kv" ||
		got["secretPathPrefix"] != "apps/paperclip" || VaultMount(got) != "kv" {
		t.Fatalf("config %v: %v", got, err)
	}
	if got, err := checkVaultConfig(VaultProviderHashiCorp, raw(`{"mount": "secret"}`)); err != nil || VaultMount(got) != "secret" {
		t.Fatalf("legacy mount %v: %v", got, err)
	}
	for _, bad := range []string{`{"mount": "a", "mountPath": "b"}`, `{"mountPath": "a//b"}`, `{"secretPathPrefix": "../x"}`,
		`{"namespace": "a b"}`, `{"mountPath": "` + strings.Repeat("m", 129) + `"}`, `{"region": "us-east-1"}`} {
		if _, err := checkVaultConfig(VaultProviderHashiCorp, raw(bad)); ledgererr.CodeOf(err) != ledgererr.Invalid {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// On a deployment with a Vault session a vault vault is ready (it may be the default);
// without one it is the coming_soon draft it always was. Limited tokens set no routing
// key; another address is refused.
func TestVaultVaultsWithASession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const company = "aaaaaaaa-0000-4000-8000-0000000000a1"
	q := queries.Vaults{DB: f.pool}
	live := &Vaults{rt: f.rt, locator: q, vaultAddress: deploymentVaultAddr}
	draft := &Vaults{rt: f.rt, locator: q}
	cfg := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	res, err := live.CreateVault(ctx, board, CreateVault{CompanyID: company, DisplayName: "Vault", Provider: VaultProviderHashiCorp,
		Config: cfg(`{"address": "https://vault.example:8200", "mountPath": "kv"}`), IsDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.rt.loadVaults(ctx, company)
	if v := st.vaults[res.VaultID]; err != nil || v.Status != VaultReady || !v.IsDefault {
		t.Fatalf("a vault vault with a session: %+v %v", v, err)
	}
	limited := Request{Actor: actor.Actor{Type: actor.Board, ID: "limited", Companies: []string{company}}}
	_, err = live.CreateVault(ctx, limited, CreateVault{CompanyID: company, DisplayName: "Mine", Provider: VaultProviderHashiCorp,
		Config: cfg(`{"namespace": "other-team"}`)})
	if ledgererr.ReasonOf(err) != ReasonVaultNamespaceRefused {
		t.Fatalf("a limited token's namespace: %v", err)
	}
	if _, err := live.UpdateVault(ctx, limited, UpdateVault{VaultID: res.VaultID, Config: cfg(`{"secretPathPrefix": "shared"}`)}); ledgererr.ReasonOf(err) != ReasonVaultNamespaceRefused {
		t.Fatalf("a limited token's prefix on PATCH: %v", err)
	}
	if _, err := live.CreateVault(ctx, limited, CreateVault{CompanyID: company, DisplayName: "Plain", Provider: VaultProviderHashiCorp}); err != nil {
		t.Fatalf("a limited token's vault without routing keys: %v", err)
	}
	_, err = live.CreateVault(ctx, board, CreateVault{CompanyID: company, DisplayName: "Elsewhere", Provider: VaultProviderHashiCorp,
		Config: cfg(`{"address": "https://attacker.example"}`)})
	if ledgererr.CodeOf(err) != ledgererr.Invalid || !strings.Contains(ledgererr.MessageOf(err), "config.address") {
		t.Fatalf("another address: %v", err)
	}
	// No session: a draft, as before, whatever its address; never a default.
	d, err := draft.CreateVault(ctx, limited, CreateVault{CompanyID: company, DisplayName: "Draft", Provider: VaultProviderHashiCorp,
		Config: cfg(`{"address": "https://elsewhere.example", "mount": "secret", "namespace": "team/a"}`)})
	if err != nil {
		t.Fatal(err)
	}
	st, _ = f.rt.loadVaults(ctx, company)
	if st.vaults[d.VaultID].Status != VaultComingSoon {
		t.Fatalf("draft %+v", st.vaults[d.VaultID])
	}
	if _, err := draft.CreateVault(ctx, board, CreateVault{CompanyID: company, DisplayName: "D2", Provider: VaultProviderHashiCorp, IsDefault: true}); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("a draft as the default: %v", err)
	}
	// gcp stays coming soon with a Vault session.
	g, err := live.CreateVault(ctx, board, CreateVault{CompanyID: company, DisplayName: "GCP", Provider: VaultProviderGCP})
	st, _ = f.rt.loadVaults(ctx, company)
	if err != nil || st.vaults[g.VaultID].Status != VaultComingSoon {
		t.Fatalf("gcp vault %+v %v", st.vaults[g.VaultID], err)
	}
}
