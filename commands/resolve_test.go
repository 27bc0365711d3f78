package commands

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

// agentFor issues a key for consumer c and returns the agent actor it authenticates as.
func (f *fixture) agentFor(t testing.TB, c Consumer) Request {
	t.Helper()
	ctx := context.Background()
	k, err := f.h().IssueKey(ctx, board, IssueAgentKey{Consumer: c})
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.Directory == nil {
		f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	}
	a, err := f.h().AuthenticateAgent(ctx, k.Token)
	if err != nil {
		t.Fatal(err)
	}
	return Request{Actor: a}
}

func accessCount(t *testing.T, f *fixture) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM secret_access_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// boundAgent creates secret "api key" (v1) in company "co", binds it to agent x at
// env.API_KEY, and returns x's agent request.
func (f *fixture) boundAgent(t *testing.T) Request {
	t.Helper()
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	sec, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "api key", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: sec.SecretID, ConfigPath: "env.API_KEY"}); err != nil {
		t.Fatal(err)
	}
	return f.agentFor(t, x)
}

// If the access cannot be recorded, no value leaves: the database goes away between
// reading the value and appending its access event.
func TestNoValueWithoutItsAccessEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	agent := f.boundAgent(t)

	var dbName string
	if err := f.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, pgtest.AdminURL(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	setConnections := func(allow bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, `ALTER DATABASE `+dbName+` ALLOW_CONNECTIONS `+map[bool]string{true: "true", false: "false"}[allow]); err != nil {
			t.Fatal(err)
		}
		if !allow {
			if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := accessCount(t, f)
	f.log.setBefore(func() { setConnections(false) })
	res, err := f.h().ResolveValues(ctx, agent, Resolve{})
	f.log.setBefore(nil)
	setConnections(true)
	if ledgererr.CodeOf(err) != ledgererr.Unavailable || len(res.Values) != 0 || len(res.Env) != 0 {
		t.Fatalf("resolve with the database gone: %v, %d values", err, len(res.Values))
	}
	if strings.Contains(err.Error(), "v1") {
		t.Fatalf("the error carries the value: %v", err)
	}
	if got := accessCount(t, f); got != before {
		t.Fatalf("access events %d → %d although nothing was returned", before, got)
	}
	// Once the database is back, the same call records its access and returns the value.
	res, err = f.h().ResolveValues(ctx, agent, Resolve{RunID: "run-2"})
	if err != nil || string(res.Env["API_KEY"].Reveal()) != "v1" {
		t.Fatalf("resolve after recovery: %v", err)
	}
	if got := accessCount(t, f); got != before+1 {
		t.Fatalf("access events after recovery: %d, want %d", got, before+1)
	}
}

func TestResolveChecksInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	mk := func(name string) string {
		res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: name, Value: val(name + "-value")})
		if err != nil {
			t.Fatal(err)
		}
		return res.SecretID
	}
	live, gone, off, purged := mk("live"), mk("gone"), mk("off"), mk("purged")
	for path, id := range map[string]string{"a.live": live, "b.gone": gone, "c.off": off, "d.purged": purged} {
		if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: id, ConfigPath: path, Required: new(bool)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: live, ConfigPath: "e.pinned", VersionSelector: "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: live, ConfigPath: "f.future", VersionSelector: "2"}); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("pin to a version that does not exist: %v", err)
	}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: live, ConfigPath: "a.live"}); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("duplicate config path: %v", err)
	}
	if _, err := f.h().Delete(ctx, board, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().Update(ctx, board, UpdateSecret{SecretID: off, Status: ptr(StatusDisabled)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h().Purge(ctx, board, purged, purged); err != nil {
		t.Fatal(err)
	}
	agent := f.agentFor(t, x)
	res, err := f.h().ResolveValues(ctx, agent, Resolve{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.live": Resolved, "b.gone": SecretDeleted, "c.off": SecretInactive, "d.purged": SecretDeleted, "e.pinned": Resolved}
	for _, m := range res.Manifest {
		if want[m.ConfigPath] != m.Outcome {
			t.Errorf("%s: outcome %s, want %s", m.ConfigPath, m.Outcome, want[m.ConfigPath])
		}
	}
	if len(res.Values) != 2 || string(res.Values["a.live"].Reveal()) != "live-value" {
		t.Fatalf("values: %d", len(res.Values))
	}
	// A requested path without a binding fails the call, after it is recorded.
	n := accessCount(t, f)
	if _, err := f.h().ResolveValues(ctx, agent, Resolve{ConfigPaths: []string{"env.NOPE"}}); ledgererr.CodeOf(err) != ledgererr.Invalid ||
		!strings.Contains(err.Error(), BindingMissing) {
		t.Fatalf("missing binding: %v", err)
	}
	if accessCount(t, f) != n+1 {
		t.Fatal("the failed attempt was not recorded")
	}
	// Board tokens cannot resolve.
	if _, err := f.h().ResolveValues(ctx, Request{Actor: actor.Actor{Type: actor.Board, ID: "b"}}, Resolve{}); ledgererr.CodeOf(err) != ledgererr.Forbidden {
		t.Fatalf("board resolve: %v", err)
	}
}

// unreadable is the local provider with its reads failing with err.
type unreadable struct {
	providers.Provider
	err error
}

func (u unreadable) Resolve(context.Context, providers.Ref, string) (providers.Value, error) {
	return providers.Value{}, u.err
}

// A provider that cannot be read now (its database in a failover) makes the resolution
// a 503, which a runtime retries; one that refuses is a 422, which it must not.
func TestAProviderUnavailableNowIsA503NotA422(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	agent := f.boundAgent(t)
	for _, tc := range []struct {
		err  error
		want ledgererr.Code
	}{
		{ledgererr.New(ledgererr.Unavailable, "storage unavailable"), ledgererr.Unavailable},
		{ledgererr.New(ledgererr.TooManyRequests, "throttled"), ledgererr.Unavailable},
		{ledgererr.New(ledgererr.Forbidden, "access denied"), ledgererr.Invalid},
	} {
		f.cfg.Providers = map[string]providers.Provider{providers.LocalEncrypted: unreadable{f.local, tc.err}}
		_, err := f.h().ResolveValues(ctx, agent, Resolve{})
		if got := ledgererr.CodeOf(err); got != tc.want {
			t.Errorf("provider failing with %v: resolution %v, want %s", tc.err, err, tc.want)
		}
	}
	f.cfg.Providers = map[string]providers.Provider{providers.LocalEncrypted: f.local}
	if res, err := f.h().ResolveValues(ctx, agent, Resolve{}); err != nil || string(res.Env["API_KEY"].Reveal()) != "v1" {
		t.Fatalf("resolve with the provider back: %v", err)
	}
}
