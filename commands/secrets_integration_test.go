package commands

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type fixture struct {
	// cfg is what h builds the handlers from; a test changes it before it calls them.
	cfg   Config
	rt    *Runtime
	log   *hookedLog
	store *eventstore.Store
	local *localenc.Provider
	pool  *pgxpool.Pool
	owner *pgxpool.Pool // for what operator commands do (rekey)
	now   time.Time
}

// handlers is every handler as one value, as a test calls them.
type handlers struct {
	*Runtime
	*Secrets
	*Consumers
	*AgentKeys
	*Policies
	*Incidents
	*Resolver
	*Importer
	*Subscribers
	*Vaults
}

func allOf(h *Handlers) handlers {
	return handlers{h.Runtime, h.Secrets, h.Consumers, h.AgentKeys, h.Policies, h.Incidents, h.Resolver, h.Importer,
		h.Subscribers, h.Vaults}
}

// h is the handlers of f.cfg on the fixture's runtime.
func (f *fixture) h() handlers { return allOf(newHandlers(f.rt, f.cfg)) }

// over is the handlers of f.cfg on another runtime (another process's memory).
func (f *fixture) over(rt *Runtime) handlers { return allOf(newHandlers(rt, f.cfg)) }

// hookedLog is a store whose appends first run a hook: tests break the database, or
// write through another process, between a decision and its append.
type hookedLog struct {
	*eventstore.Store
	mu     sync.Mutex
	before func()
}

func (l *hookedLog) AppendWith(ctx context.Context, a eventstore.Append) (eventstore.AppendResult, error) {
	l.mu.Lock()
	before := l.before
	l.mu.Unlock()
	if before != nil {
		before()
	}
	return l.Store.AppendWith(ctx, a)
}

func (l *hookedLog) setBefore(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.before = fn
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	// The commands run as the runtime role serve uses: its grants must cover them.
	ownerPool, owner := pgtest.NewMigratedPool(t)
	pool := pgtest.NewPool(t, pgtest.RuntimeURL(t, owner))
	key, _, err := localenc.LoadMasterKey(func(string) string { return strings.Repeat("ab", 32) }, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	local, err := localenc.NewProvider(pool, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{local: local, pool: pool, owner: ownerPool, now: time.Now()}
	f.store = eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Projector: projections.Inline(projections.All())})
	f.log = &hookedLog{Store: f.store}
	f.cfg = Config{Log: f.log, Providers: map[string]providers.Provider{providers.LocalEncrypted: local},
		DefaultProvider: providers.LocalEncrypted, RecoveryWindow: 24 * time.Hour, Now: func() time.Time { return f.now },
		Credentials: testKey}
	f.rt = NewRuntime(f.log, testKey, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.store.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// otherProcess is another ledger process on f's database: its own store, runtime and
// memory, and f.cfg's dependencies.
func otherProcess(t testing.TB, f *fixture) handlers {
	t.Helper()
	store := eventstore.New(f.pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Projector: projections.Inline(projections.All())})
	h := f.over(NewRuntime(store, testKey, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = store.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// testKey is the integrity key of the tests' instances.
var testKey = func() integrity.Key {
	k, err := integrity.FromSecret(make([]byte, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

var board = Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}

func TestRestoreWindowAndPurge(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "db password", Value: val("pw-1")})
	if err != nil {
		t.Fatal(err)
	}
	id := res.SecretID
	if _, err := f.h().Restore(ctx, board, id); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("restore of a live secret: %v", err)
	}
	if _, err := f.h().Delete(ctx, board, id); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(25 * time.Hour)
	if _, err := f.h().Restore(ctx, board, id); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("restore after the window: %v", err)
	}
	f.now = f.now.Add(-2 * time.Hour)
	if _, err := f.h().Restore(ctx, board, id); err != nil {
		t.Fatalf("restore within the window: %v", err)
	}

	// The stored value resolves until the purge, and never after.
	var ref string
	if err := f.pool.QueryRow(ctx, `SELECT provider_version_ref FROM company_secret_versions WHERE secret_id = $1`, id).Scan(&ref); err != nil {
		t.Fatal(err)
	}
	pref := providers.Ref{CompanyID: "co", SecretID: id, Version: 1}
	if v, err := f.local.Resolve(ctx, pref, ref); err != nil || string(v.Reveal()) != "pw-1" {
		t.Fatalf("resolve before purge: %v", err)
	}
	if _, err := f.h().Purge(ctx, board, id, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.local.Resolve(ctx, pref, ref); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("resolve after purge: %v", err)
	}
	if _, err := f.h().Purge(ctx, board, id, id); err != nil {
		t.Fatalf("repeated purge: %v", err)
	}
	if _, err := f.h().Restore(ctx, board, id); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("restore of a purged secret: %v", err)
	}
	var status string
	if err := f.pool.QueryRow(ctx, `SELECT string_agg(status, ',') FROM company_secret_versions WHERE secret_id = $1`, id).Scan(&status); err != nil || status != "destroyed" {
		t.Fatalf("versions after purge: %q %v", status, err)
	}
}

func TestFailedAppendDiscardsTheProviderWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "taken", Value: val("v")}); err != nil {
		t.Fatal(err)
	}
	_, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "taken", Key: "other", Value: val("v2")})
	if ledgererr.CodeOf(err) != ledgererr.Conflict || !strings.Contains(ledgererr.MessageOf(err), "name") {
		t.Fatalf("duplicate name: %v", err)
	}
	var n int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM local_secret_values`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("ciphertexts after a refused create: %d, %v", n, err)
	}
	// Same name in another company is fine; a company-limited actor cannot see it.
	res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co-2", Name: "taken", Value: val("v")})
	if err != nil {
		t.Fatal(err)
	}
	limited := Request{Actor: actor.Actor{Type: actor.Board, ID: "l", Companies: []string{"co"}}}
	if _, err := f.h().Rotate(ctx, limited, RotateSecret{SecretID: res.SecretID, Value: val("x")}); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("rotate across companies: %v", err)
	}
	if _, err := f.h().Create(ctx, limited, CreateSecret{CompanyID: "co-2", Name: "y", Value: val("v")}); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("create across companies: %v", err)
	}
}

func TestRekeyKeepsEveryValueReadable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: name, Value: val("value-" + name)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.SecretID)
	}
	nextKey, _, _ := localenc.LoadMasterKey(func(string) string { return strings.Repeat("cd", 32) }, t.TempDir())
	next, err := localenc.NewSealer(nextKey)
	if err != nil {
		t.Fatal(err)
	}
	// secrets rekey is an operator command: it runs as the owner.
	asOwner, err := localenc.NewProvider(f.owner, f.local.Sealer().Key(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := asOwner.Rekey(ctx, next, false)
	if err != nil || n != 3 {
		t.Fatalf("Rekey = %d, %v", n, err)
	}
	rekeyed, _ := localenc.NewProvider(f.pool, nextKey, nil)
	// Rekey runs with the server stopped: a process started again with the old key
	// (its key check aside) must not decrypt anything.
	stale, _ := localenc.NewProvider(f.pool, f.local.Sealer().Key(), nil)
	for i, id := range ids {
		var ref string
		if err := f.pool.QueryRow(ctx, `SELECT provider_version_ref FROM company_secret_versions WHERE secret_id = $1`, id).Scan(&ref); err != nil {
			t.Fatal(err)
		}
		pref := providers.Ref{CompanyID: "co", SecretID: id, Version: 1}
		v, err := rekeyed.Resolve(ctx, pref, ref)
		if err != nil || string(v.Reveal()) != "value-"+[]string{"a", "b", "c"}[i] {
			t.Fatalf("after rekey: %v", err)
		}
		if _, err := stale.Resolve(ctx, pref, ref); err == nil || !strings.Contains(err.Error(), f.local.Sealer().Key().Fingerprint()) {
			t.Fatalf("the old key still decrypts, or the error does not name it: %v", err)
		}
	}
}
