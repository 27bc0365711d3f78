package commands

import (
	"context"
	"sync"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

// racingPlacer places secrets in local_encrypted vaults as the vaults read model shows
// them, and runs between once, after its first read: a write to the company's vaults
// that lands between a create's placement and its append.
type racingPlacer struct {
	vaults  queries.Vaults
	local   providers.Provider
	once    sync.Once
	between func()
}

func (p *racingPlacer) Place(ctx context.Context, a actor.Actor, companyID, providerID, vaultID string) (Placement, error) {
	v, err := p.vaults.Get(ctx, a, vaultID)
	if err != nil || v.CompanyID != companyID {
		return Placement{}, errVaultNotFound
	}
	if !v.Usable() {
		return Placement{}, ledgererr.New(ledgererr.Invalid, "the provider vault is %s", v.Status)
	}
	p.once.Do(p.between)
	return Placement{ProviderID: v.Provider, VaultID: v.ID, Provider: p.local}, nil
}

func (p *racingPlacer) Provider(context.Context, string, string) (providers.Provider, error) {
	return p.local, nil
}

// A vault disabled after a create placed a secret in it, and before the create's
// append, refuses the create: the append is conditional on the company's vault stream
// as the placement read it, so the create decides again, on the disabled vault.
func TestAVaultDisabledDuringPlacementRefusesTheCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const company = "aaaaaaaa-0000-4000-8000-000000000003"
	q := queries.Vaults{DB: f.pool}
	vaults := &Vaults{rt: f.rt, locator: q}
	v, err := vaults.CreateVault(ctx, board, CreateVault{CompanyID: company, DisplayName: "V", Provider: providers.LocalEncrypted})
	if err != nil {
		t.Fatal(err)
	}
	disabled := false
	f.cfg.Placer = &racingPlacer{vaults: q, local: f.local, between: func() {
		if _, err := vaults.DisableVault(ctx, board, v.VaultID); err != nil {
			t.Error(err)
		}
		disabled = true
	}}
	res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: company, Name: "db", Value: val("pw"), ProviderConfigID: v.VaultID})
	if !disabled || ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("a create placed in a vault disabled before its append: %+v %v (disabled %v), want EINVALID", res, err, disabled)
	}
	page, err := queries.Secrets{DB: f.pool}.List(ctx, board.Actor, company, queries.SecretFilter{}, queries.PageRequest{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("%d secrets in the company after the refused create (%v)", len(page.Items), err)
	}
	// The same create in a usable vault goes through, conditional on the stream as it is.
	v2, err := vaults.CreateVault(ctx, board, CreateVault{CompanyID: company, DisplayName: "V2", Provider: providers.LocalEncrypted})
	if err != nil {
		t.Fatal(err)
	}
	res, err = f.h().Create(ctx, board, CreateSecret{CompanyID: company, Name: "db", Value: val("pw"), ProviderConfigID: v2.VaultID})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.store.ReadStream(ctx, events.SecretStream(res.SecretID), 0, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("the created secret's stream: %d events (%v)", len(evs), err)
	}
	p, err := events.Decode(evs[0])
	if err != nil || p.(*events.SecretCreatedV1).ProviderConfigID != v2.VaultID {
		t.Fatalf("the secret was placed in %+v (%v), want vault %s", p, err, v2.VaultID)
	}
}
