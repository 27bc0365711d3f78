package commands

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

// scriptedHealth answers each provider's check with the status set for it.
type scriptedHealth struct {
	mu     sync.Mutex
	status map[string]string
	calls  int
}

func (s *scriptedHealth) Check(_ context.Context, v Vault) (string, string, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.status[v.Provider], "scripted " + s.status[v.Provider], map[string]any{"region": v.Config["region"]}
}

const vaultCompany = "aaaaaaaa-0000-4000-8000-000000000001"

// Vault commands against the real event store, inline projection and read model, as
// the runtime role: concurrent defaults, health, idempotent replay, and a rebuild that
// gives the same rows.
func TestVaultsAgainstTheStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	q := queries.Vaults{DB: f.pool}
	health := &scriptedHealth{status: map[string]string{"local_encrypted": HealthOK, "aws_secrets_manager": HealthError}}
	s := &vaultScene{f: f, ctx: ctx, q: q, h: &Vaults{rt: f.rt, locator: q, checker: health, awsVaults: true}}
	// Without AWSVaults an AWS vault is refused, and nothing is written.
	s.awsVaultRefusedWhenOff(t, &Vaults{rt: f.rt, locator: q, checker: health})

	aws := map[string]any{"region": "us-east-1"}
	a := s.create(t, "A", "aws_secrets_manager", aws, true)
	b := s.create(t, "B", "aws_secrets_manager", map[string]any{"region": "eu-west-1", "namespace": "prod"}, false)
	local := s.create(t, "L", "local_encrypted", nil, true)
	s.create(t, "G", "gcp_secret_manager", map[string]any{}, false)

	// Many rounds of two concurrent set-default calls: after each, exactly one default.
	s.concurrentSetDefaultsLeaveOne(t, a, b)

	// One after the other, the last one wins.
	s.lastSetDefaultWins(t, a, b)

	// Health: recorded when it changes, not when it repeats.
	s.healthRecordedWhenItChanges(t, a, local)

	// A new config forgets the check; the vault is ready again.
	s.newConfigForgetsHealth(t, a)

	// An idempotent create answers the first vault again and writes nothing.
	s.idempotentCreateReplays(t)

	// Disable clears the default; repeating it succeeds and writes nothing.
	s.disableClearsTheDefault(t)

	// Another company's board token and agent keys see nothing.
	s.otherCompanySeesNothing(t, b)

	// A rebuild folds the log into the same rows.
	s.rebuildGivesTheSameRows(t)
}

// vaultScene is the vault handler h over the real store, and its read model q.
type vaultScene struct {
	f   *fixture
	ctx context.Context
	q   queries.Vaults
	h   *Vaults
}

func (s *vaultScene) awsVaultRefusedWhenOff(t *testing.T, off *Vaults) {
	t.Helper()
	_, err := off.CreateVault(s.ctx, board, CreateVault{CompanyID: vaultCompany, DisplayName: "Off", Provider: "aws_secrets_manager",
		Config: map[string]any{"region": "us-east-1"}})
	if ledgererr.CodeOf(err) != ledgererr.Invalid || providers.ProviderCodeOf(err) != providers.CodeGuardrail ||
		!strings.Contains(ledgererr.MessageOf(err), "LEDGER_AWS_VAULTS") {
		t.Fatalf("AWS vault without AWSVaults: %v", err)
	}
	if evs, err := s.f.store.ReadStream(s.ctx, events.VaultStream(vaultCompany), 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("a refused AWS vault wrote %d events (%v)", len(evs), err)
	}
}

func (s *vaultScene) create(t *testing.T, name, provider string, config map[string]any, isDefault bool) string {
	t.Helper()
	res, err := s.h.CreateVault(s.ctx, board, CreateVault{CompanyID: vaultCompany, DisplayName: name, Provider: provider,
		Config: config, IsDefault: isDefault})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return res.VaultID
}

// head is the position of the last event committed to the log, sealed or not.
func (s *vaultScene) head(t *testing.T) int64 {
	t.Helper()
	var pos int64
	if err := s.f.pool.QueryRow(s.ctx, `SELECT coalesce(max(position), 0) FROM ledger_log`).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	return pos
}

func (s *vaultScene) concurrentSetDefaultsLeaveOne(t *testing.T, a, b string) {
	t.Helper()
	f, ctx, q, h := s.f, s.ctx, s.q, s.h
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = h.SetDefaultVault(ctx, board, id)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && ledgererr.CodeOf(err) != ledgererr.Conflict {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if errs[0] != nil && errs[1] != nil {
			t.Fatalf("round %d: both set-default calls failed: %v", round, errs)
		}
		page, err := q.List(ctx, board.Actor, vaultCompany, queries.VaultFilter{Provider: "aws_secrets_manager"}, queries.PageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range page.Items {
			if v.IsDefault {
				n++
			}
		}
		st, err := newRuntime(f.store, keyHashes{}).loadVaults(ctx, vaultCompany) // as the log has it
		if err != nil {
			t.Fatal(err)
		}
		def, ok, err := q.Default(ctx, vaultCompany, "aws_secrets_manager")
		if n != 1 || !ok || err != nil || st.defaultOf("aws_secrets_manager") != def.ID {
			t.Fatalf("round %d: %d defaults in the read model, default %s in it, %s in the log (%v)", round, n, def.ID,
				st.defaultOf("aws_secrets_manager"), err)
		}
	}
}

func (s *vaultScene) lastSetDefaultWins(t *testing.T, a, b string) {
	t.Helper()
	for _, id := range []string{a, b} {
		if _, err := s.h.SetDefaultVault(s.ctx, board, id); err != nil {
			t.Fatal(err)
		}
		if def, ok, err := s.q.Default(s.ctx, vaultCompany, "aws_secrets_manager"); !ok || err != nil || def.ID != id {
			t.Fatalf("default %s, want %s (%v)", def.ID, id, err)
		}
	}
}

func (s *vaultScene) healthRecordedWhenItChanges(t *testing.T, a, local string) {
	t.Helper()
	ctx, q, h := s.ctx, s.q, s.h
	if _, err := h.CheckVaultHealth(ctx, board, a); err != nil {
		t.Fatal(err)
	}
	v, err := q.Get(ctx, board.Actor, a)
	if err != nil || v.Status != VaultWarning || v.HealthStatus == nil || *v.HealthStatus != HealthError ||
		v.HealthDetails["region"] != "us-east-1" || v.HealthCheckedAt == nil {
		t.Fatalf("after an error check: %+v %v", v, err)
	}
	before := s.head(t)
	if res, err := h.CheckVaultHealth(ctx, board, a); err != nil || res.Position != 0 || s.head(t) != before {
		t.Fatalf("a repeated check wrote: %+v %v", res, err)
	}
	if _, err := h.CheckVaultHealth(ctx, board, local); err != nil {
		t.Fatal(err)
	}
	if v, _ := q.Get(ctx, board.Actor, local); v.Status != VaultReady || *v.HealthStatus != HealthOK {
		t.Fatalf("local after check: %+v", v)
	}
}

func (s *vaultScene) newConfigForgetsHealth(t *testing.T, a string) {
	t.Helper()
	if _, err := s.h.UpdateVault(s.ctx, board, UpdateVault{VaultID: a, Config: map[string]any{"region": "us-east-2"}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.q.Get(s.ctx, board.Actor, a); v.Status != VaultReady || v.HealthStatus != nil || v.Config["region"] != "us-east-2" {
		t.Fatalf("after a new config: %+v", v)
	}
}

func (s *vaultScene) idempotentCreateReplays(t *testing.T) {
	t.Helper()
	key := &eventstore.Idempotency{Key: "k1", RequestHash: []byte("h1")}
	req := Request{Actor: board.Actor, Idempotency: key}
	first, err := s.h.CreateVault(s.ctx, req, CreateVault{CompanyID: vaultCompany, DisplayName: "I", Provider: "local_encrypted"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.h.CreateVault(s.ctx, req, CreateVault{CompanyID: vaultCompany, DisplayName: "I", Provider: "local_encrypted"})
	if err != nil || !again.Replayed || again.VaultID != first.VaultID {
		t.Fatalf("replay: %+v %v, first %+v", again, err, first)
	}
}

func (s *vaultScene) disableClearsTheDefault(t *testing.T) {
	t.Helper()
	ctx, q, h := s.ctx, s.q, s.h
	def, _, _ := q.Default(ctx, vaultCompany, "aws_secrets_manager")
	if _, err := h.DisableVault(ctx, board, def.ID); err != nil {
		t.Fatal(err)
	}
	before := s.head(t)
	if res, err := h.DisableVault(ctx, board, def.ID); err != nil || s.head(t) != before || res.VaultID != def.ID {
		t.Fatalf("repeat disable: %+v %v", res, err)
	}
	if _, ok, err := q.Default(ctx, vaultCompany, "aws_secrets_manager"); ok || err != nil {
		t.Fatalf("a disabled vault is still the default (%v)", err)
	}
}

func (s *vaultScene) otherCompanySeesNothing(t *testing.T, b string) {
	t.Helper()
	ctx, h := s.ctx, s.h
	other := actor.Actor{Type: actor.Board, ID: "b", Companies: []string{"bbbbbbbb-0000-4000-8000-000000000002"}}
	if _, err := h.SetDefaultVault(ctx, Request{Actor: other}, b); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Errorf("another company's set-default: %v", err)
	}
	if _, err := s.q.Get(ctx, other, b); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Errorf("another company's get: %v", err)
	}
	agent := actor.Actor{Type: actor.Agent, ID: "k", Companies: []string{vaultCompany}}
	if _, err := h.CreateVault(ctx, Request{Actor: agent}, CreateVault{CompanyID: vaultCompany, DisplayName: "x", Provider: "local_encrypted"}); ledgererr.CodeOf(err) != ledgererr.Forbidden {
		t.Errorf("agent create: %v", err)
	}
}

func (s *vaultScene) rebuildGivesTheSameRows(t *testing.T) {
	t.Helper()
	f, ctx := s.f, s.ctx
	const snapshot = `SELECT json_agg(v ORDER BY id)::text FROM company_secret_provider_configs v`
	var was, is string
	if err := f.owner.QueryRow(ctx, snapshot).Scan(&was); err != nil {
		t.Fatal(err)
	}
	if _, err := projections.Rebuild(ctx, f.owner, projections.All()); err != nil {
		t.Fatal(err)
	}
	if err := f.owner.QueryRow(ctx, snapshot).Scan(&is); err != nil {
		t.Fatal(err)
	}
	if was != is {
		t.Fatalf("rebuild changed the vaults:\nbefore %s\nafter  %s", was, is)
	}
	var n int
	if err := f.owner.QueryRow(ctx, `SELECT count(*) FROM company_secret_provider_configs`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("%d vaults after rebuild (%v)", n, err)
	}
}

// Concurrent creates at the cap: the append condition on the company's vault stream
// lets exactly as many in as the cap leaves room for; the others are refused (or, after
// every retry, a conflict) and write nothing.
func TestConcurrentCreatesStayWithinTheCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const company = "aaaaaaaa-0000-4000-8000-000000000002"
	q := queries.Vaults{DB: f.pool}
	h := &Vaults{rt: f.rt, locator: q}
	local := CreateVault{CompanyID: company, DisplayName: "v", Provider: "local_encrypted"}
	for i := 0; i < MaxVaultsPerCompany-2; i++ {
		if _, err := h.CreateVault(ctx, board, local); err != nil {
			t.Fatalf("vault %d: %v", i+1, err)
		}
	}
	const racers = 6
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.CreateVault(ctx, board, local)
		}()
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch ledgererr.CodeOf(err) {
		case "":
			created++
		case ledgererr.Invalid, ledgererr.Conflict:
		default:
			t.Fatalf("racing create: %v", err)
		}
	}
	page, err := q.List(ctx, board.Actor, company, queries.VaultFilter{}, queries.PageRequest{Limit: queries.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != MaxVaultsPerCompany || created != 2 {
		t.Fatalf("%d vaults after the race (%d creates answered ok), want exactly %d", len(page.Items), created, MaxVaultsPerCompany)
	}
	if _, err := h.CreateVault(ctx, board, local); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("create beyond the cap: %v", err)
	}
}
