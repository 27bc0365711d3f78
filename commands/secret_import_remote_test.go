package commands

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

// stubRemote is a remote provider that names references as vault does
// ("secret/<path>"), refuses its own managed root, lists by prefix and never reads a
// value at link.
type stubRemote struct {
	id   string
	page providers.RemotePage
	mu   sync.Mutex
	// listed are the prefixes of each ListUnder call, excluded its excluded roots.
	listed, excluded [][]string
}

func (s *stubRemote) Descriptor() providers.Descriptor {
	return providers.Descriptor{ID: s.id, SupportsExternalReferences: true, Configured: true}
}
func (s *stubRemote) Put(context.Context, providers.Ref, providers.Value) (providers.Stored, error) {
	return providers.Stored{}, ledgererr.New(ledgererr.Invalid, "not here")
}
func (s *stubRemote) Link(context.Context, providers.Ref, string, string) (providers.Stored, error) {
	return providers.Stored{}, nil
}
func (s *stubRemote) Resolve(context.Context, providers.Ref, string) (providers.Value, error) {
	return providers.NewValue([]byte("v")), nil
}
func (s *stubRemote) Discard(context.Context, providers.Ref, string) error { return nil }
func (s *stubRemote) Destroy(context.Context, providers.Ref) error         { return nil }
func (s *stubRemote) Health(context.Context) providers.Health {
	return providers.Health{Provider: s.id, OK: true}
}
func (s *stubRemote) CheckExternalRef(ref string) error {
	if strings.HasPrefix(ref, "paperclip/") {
		return ledgererr.Wrap(&providers.GuardrailError{Reason: "managed"}, ledgererr.Invalid, "managed root")
	}
	return nil
}
func (s *stubRemote) ExternalRefName(ref string) string {
	return "secret/" + strings.TrimPrefix(ref, "/")
}
func (s *stubRemote) ManagedByLedger(context.Context, string) (bool, error) { return false, nil }
func (s *stubRemote) List(context.Context, string, string, int) (providers.RemotePage, error) {
	return s.page, nil
}
func (s *stubRemote) ListUnder(_ context.Context, prefixes, exclude []string, _, _ string, _ int) (providers.RemotePage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listed = append(s.listed, append([]string(nil), prefixes...))
	s.excluded = append(s.excluded, append([]string(nil), exclude...))
	return s.page, nil
}

func (s *stubRemote) lastListed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listed) == 0 {
		return nil
	}
	return s.listed[len(s.listed)-1]
}

// mapPlacer places in the vaults it holds, by id, of company "co".
type mapPlacer map[string]Placement

func (m mapPlacer) Place(_ context.Context, _ actor.Actor, companyID, _, vaultID string) (Placement, error) {
	at, ok := m[vaultID]
	if !ok || companyID != "co" {
		return Placement{}, errVaultNotFound
	}
	return at, nil
}

func (m mapPlacer) Provider(_ context.Context, providerID, vaultID string) (providers.Provider, error) {
	return m[vaultID].Provider, nil
}

func vaultInventory() providers.RemotePage {
	return providers.RemotePage{Secrets: []providers.RemoteSecret{{Ref: "apps/a", Name: "apps/a"}, {Ref: "other/b", Name: "other/b"},
		{Ref: "paperclip/dep/co/k", Name: "paperclip/dep/co/k"}}}
}

// The instance's approved prefixes are per provider: LEDGER_AWS_EXTERNAL_PREFIXES=*
// approves no vault reference, LEDGER_VAULT_EXTERNAL_PREFIXES approves vault references
// by their [namespace/]mount/path name. A preview lists under the approved prefixes only.
func TestVaultReferencesUseTheVaultInstancePrefixes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	vault := &stubRemote{id: providers.HashiCorpVault, page: vaultInventory()}
	f.cfg.Providers[providers.HashiCorpVault] = vault
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	f.cfg.ExternalPrefixes = []string{AnyExternalRef}
	f.cfg.VaultExternalPrefixes = []string{"secret/apps/"}

	page, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Candidates) != 1 || page.Candidates[0].ExternalRef != "apps/a" || page.Candidates[0].Name != "secret/apps/a" {
		t.Fatalf("candidates %+v", page.Candidates)
	}
	if got := vault.lastListed(); strings.Join(got, "|") != "secret/apps/" {
		t.Fatalf("listed under %q", got)
	}
	link := func(ref string) error {
		_, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: ref, Provider: providers.HashiCorpVault,
			ManagedMode: ExternalReference, ExternalRef: ref})
		return err
	}
	if err := link("other/b"); ledgererr.ReasonOf(err) != ReasonExternalNotApproved {
		t.Fatalf("a vault reference outside LEDGER_VAULT_EXTERNAL_PREFIXES (AWS's is *): %v", err)
	}
	if err := link("apps/a"); err != nil {
		t.Fatalf("an approved vault reference: %v", err)
	}
	// The company's own prefixes join the listing; without any vault approval, nothing.
	if _, err := f.h().SetPolicy(ctx, board, SetExternalPolicy{CompanyID: "co", Policy: ExternalPolicy{Prefixes: []string{"secret/other/"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co"}); err != nil {
		t.Fatal(err)
	}
	if got := vault.lastListed(); strings.Join(got, "|") != "secret/apps/|secret/other/" {
		t.Fatalf("listed under %q", got)
	}
	f2 := newFixture(t)
	f2.cfg.Providers[providers.HashiCorpVault] = &stubRemote{id: providers.HashiCorpVault, page: vaultInventory()}
	f2.cfg.Directory = testDirectory{queries.Consumers{DB: f2.pool}}
	f2.cfg.ExternalPrefixes = []string{AnyExternalRef}
	if _, err := f2.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co"}); ledgererr.ReasonOf(err) != ReasonExternalNotApproved {
		t.Fatalf("a vault preview approved by AWS's prefixes: %v", err)
	}
}

// A remote import reads the vault it is given by the vault's provider (aws or vault),
// refuses a local vault, and without one reads the deployment's AWS instance, else its
// vault instance.
func TestImportTargetPicksRemoteVaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	vault := &stubRemote{id: providers.HashiCorpVault, page: vaultInventory()}
	deployment := &stubRemote{id: providers.HashiCorpVault, page: vaultInventory()}
	aws := &stubRemote{id: providers.AWSSecretsManager}
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	f.cfg.VaultExternalPrefixes = []string{AnyExternalRef}
	f.cfg.Placer = mapPlacer{"VV": {ProviderID: providers.HashiCorpVault, VaultID: "VV", Provider: vault},
		"LV": {ProviderID: providers.LocalEncrypted, VaultID: "LV", Provider: f.local}}
	if _, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co"}); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("no remote instance, no vault: %v", err)
	}
	page, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co", VaultID: "VV"})
	if err != nil || len(page.Candidates) != 2 || strings.Join(vault.lastListed(), "|") != AnyExternalRef {
		t.Fatalf("vault vault: %+v %v, listed %q", page.Candidates, err, vault.lastListed())
	}
	if _, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co", VaultID: "LV"}); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("a local vault as an import's: %v", err)
	}
	res, err := f.h().Import(ctx, board, ImportSecrets{CompanyID: "co", VaultID: "VV", Rows: []ImportRow{{ExternalRef: "apps/a"},
		{ExternalRef: "paperclip/dep/co/k"}}})
	if err != nil || res.Imported != 1 || res.Rows[0].Name != "secret/apps/a" || res.Rows[1].Reason != ReasonGuardrail {
		t.Fatalf("import %+v %v", res, err)
	}
	f.cfg.Providers[providers.HashiCorpVault] = deployment
	if _, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co"}); err != nil || len(deployment.listed) != 1 {
		t.Fatalf("the deployment's vault instance: %v (%d lists)", err, len(deployment.listed))
	}
	f.cfg.Providers[providers.AWSSecretsManager] = aws
	f.cfg.ExternalPrefixes = []string{AnyExternalRef}
	if _, err := f.h().PreviewImport(ctx, board.Actor, ImportPreview{CompanyID: "co"}); err != nil || len(aws.listed) != 1 || len(deployment.listed) != 1 {
		t.Fatalf("AWS first: %v (aws %d, vault %d lists)", err, len(aws.listed), len(deployment.listed))
	}
}

// A listing by prefix is told the instance's managed namespaces, which it does not go
// into (another company's managed paths would otherwise show in the page's cursor).
func TestPreviewExcludesManagedNamespaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	vault := &stubRemote{id: providers.HashiCorpVault, page: vaultInventory()}
	f.cfg.Providers[providers.HashiCorpVault] = vault
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	f.cfg.VaultExternalPrefixes = []string{AnyExternalRef}
	f.cfg.Managed = staticNamespaces{"secret/paperclip/dep/", "secret/paperclip/01VAULTB/"}
	if _, err := f.h().PreviewImport(context.Background(), board.Actor, ImportPreview{CompanyID: "co"}); err != nil {
		t.Fatal(err)
	}
	vault.mu.Lock()
	defer vault.mu.Unlock()
	if got := strings.Join(vault.excluded[len(vault.excluded)-1], "|"); got != "secret/paperclip/dep/|secret/paperclip/01VAULTB/" {
		t.Fatalf("excluded %q", got)
	}
}
