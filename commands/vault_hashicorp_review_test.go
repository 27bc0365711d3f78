package commands

import (
	"context"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// A token limited to companies cannot undo the routing an instance-wide token gave a
// vault vault: a PATCH that drops (or changes) its namespace, mountPath or
// secretPathPrefix would move the vault's managed root to the deployment's namespace and
// mount, out of where the instance's operator confined it. A PATCH that keeps them as
// they are still passes.
func TestLimitedTokenKeepsTheInstanceRouting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const company = "aaaaaaaa-0000-4000-8000-0000000000b2"
	live := &Vaults{rt: f.rt, locator: queries.Vaults{DB: f.pool}, vaultAddress: deploymentVaultAddr}
	res, err := live.CreateVault(ctx, board, CreateVault{CompanyID: company, DisplayName: "Confined", Provider: VaultProviderHashiCorp,
		Config: map[string]any{"namespace": "tenant-b", "secretPathPrefix": "tenants/b"}})
	if err != nil {
		t.Fatal(err)
	}
	limited := Request{Actor: actor.Actor{Type: actor.Board, ID: "limited", Companies: []string{company}}}
	for _, cfg := range []map[string]any{{}, {"namespace": "tenant-b"}, {"namespace": "tenant-b", "secretPathPrefix": "tenants/c"}} {
		if _, err := live.UpdateVault(ctx, limited, UpdateVault{VaultID: res.VaultID, Config: cfg}); ledgererr.ReasonOf(err) != ReasonVaultNamespaceRefused {
			t.Fatalf("a limited token's PATCH %v of an instance-routed vault: %v", cfg, err)
		}
	}
	same := map[string]any{"namespace": "tenant-b", "secretPathPrefix": "tenants/b"}
	if _, err := live.UpdateVault(ctx, limited, UpdateVault{VaultID: res.VaultID, Config: same}); err != nil {
		t.Fatalf("a limited token's PATCH keeping the routing: %v", err)
	}
	st, err := f.rt.loadVaults(ctx, company)
	if c := st.vaults[res.VaultID].Config; err != nil || c["namespace"] != "tenant-b" || c["secretPathPrefix"] != "tenants/b" {
		t.Fatalf("config after the PATCHes: %v %v", c, err)
	}
}
