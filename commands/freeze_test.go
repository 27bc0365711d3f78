package commands

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// The folds: a freeze holds until its unfreeze, and the company's wins over the
// consumer's.
func TestFrozenOutcomeFolds(t *testing.T) {
	t.Parallel()
	evt := func(typ string, pos int64, payload any) eventstore.Event {
		b, _ := json.Marshal(payload)
		return eventstore.Event{Type: typ, SchemaVersion: 1, Position: pos, StreamVersion: pos, Payload: b}
	}
	for _, tc := range []struct {
		name               string
		company, consumer  []eventstore.Event
		want               string
		wantCompanyVersion int64
	}{
		{"nothing", nil, nil, "", 0},
		{"company frozen", []eventstore.Event{evt(events.CompanyFrozen, 1, events.CompanyFrozenV1{Reason: "r"})}, nil, CompanyFrozen, 1},
		{"company unfrozen", []eventstore.Event{evt(events.CompanyFrozen, 1, events.CompanyFrozenV1{Reason: "r"}),
			evt(events.CompanyUnfrozen, 2, events.CompanyUnfrozenV1{})}, nil, "", 2},
		{"consumer frozen", nil, []eventstore.Event{evt(events.ConsumerFrozen, 1, events.ConsumerFrozenV1{Reason: "r"})}, ConsumerFrozen, 0},
		{"consumer unfrozen", nil, []eventstore.Event{evt(events.ConsumerFrozen, 1, events.ConsumerFrozenV1{Reason: "r"}),
			evt(events.ConsumerUnfrozen, 2, events.ConsumerUnfrozenV1{})}, "", 0},
		{"both: the company's wins", []eventstore.Event{evt(events.CompanyFrozen, 1, events.CompanyFrozenV1{Reason: "r"})},
			[]eventstore.Event{evt(events.ConsumerFrozen, 1, events.ConsumerFrozenV1{Reason: "r"})}, CompanyFrozen, 1},
	} {
		var com companyState
		con := newConsumerState()
		for _, e := range tc.company {
			if err := com.apply(e); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range tc.consumer {
			if err := con.apply(e); err != nil {
				t.Fatal(err)
			}
		}
		if got := frozenOutcome(con, com); got != tc.want || com.streamVersion != tc.wantCompanyVersion {
			t.Errorf("%s: %q at company version %d, want %q at %d", tc.name, got, com.streamVersion, tc.want, tc.wantCompanyVersion)
		}
	}
}

// outcomesOf returns the outcomes recorded for consumer target in company "co", oldest
// first.
func outcomesOf(t *testing.T, f *fixture, target string) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT coalesce(error_code, outcome) FROM secret_access_events
		WHERE company_id = 'co' AND consumer = $1 ORDER BY position`, "agent/"+target)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func TestFreezeStopsResolutionAndIsRecorded(t *testing.T) {
	t.Parallel()
	s := newFreezeScene(t)
	if !s.resolves(t, s.x) || !s.resolves(t, s.y) {
		t.Fatal("resolution before any freeze failed")
	}

	// Bad freezes write nothing.
	s.badFreezesWriteNothing(t)

	// The company: nobody resolves, and each attempt is recorded, with or without paths.
	s.companyFreezeStopsEveryone(t)

	// Unfrozen, everyone resolves again; then one consumer alone is frozen.
	s.consumerFreezeStopsThatConsumer(t)
}

// freezeScene is one company with a secret bound to agents x and y; z has nothing bound.
type freezeScene struct {
	f       *fixture
	ctx     context.Context
	x, y, z Request
}

func newFreezeScene(t *testing.T) *freezeScene {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	sec, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "api key", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x", "y"} {
		if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: freezeConsumer(id), SecretID: sec.SecretID, ConfigPath: "env.API_KEY"}); err != nil {
			t.Fatal(err)
		}
	}
	return &freezeScene{f: f, ctx: ctx,
		x: f.agentFor(t, freezeConsumer("x")), y: f.agentFor(t, freezeConsumer("y")), z: f.agentFor(t, freezeConsumer("z"))}
}

func freezeConsumer(id string) Consumer {
	return Consumer{CompanyID: "co", TargetType: "agent", TargetID: id}
}

// resolves tells whether the agent got the secret's value; a refusal must carry no values.
func (s *freezeScene) resolves(t *testing.T, agent Request) bool {
	t.Helper()
	res, err := s.f.h().ResolveValues(s.ctx, agent, Resolve{})
	if err == nil {
		return string(res.Values["env.API_KEY"].Reveal()) == "v1"
	}
	if len(res.Values) > 0 || len(res.Env) > 0 {
		t.Fatalf("a refused resolution returned values")
	}
	return false
}

func (s *freezeScene) badFreezesWriteNothing(t *testing.T) {
	t.Helper()
	for _, tc := range []struct {
		req  Request
		c    SetFreeze
		want ledgererr.Code
	}{
		{board, SetFreeze{Consumer: Consumer{CompanyID: "co"}, Frozen: true, Reason: "  "}, ledgererr.Invalid},
		{board, SetFreeze{Consumer: Consumer{CompanyID: "co"}, Frozen: true, Reason: string(make([]byte, MaxFreezeReason+1))}, ledgererr.Invalid},
		{s.x, SetFreeze{Consumer: Consumer{CompanyID: "co"}, Frozen: true, Reason: "r"}, ledgererr.Forbidden},
		{Request{Actor: actor.Actor{Type: actor.Board, ID: "b", Companies: []string{"other"}}},
			SetFreeze{Consumer: Consumer{CompanyID: "co"}, Frozen: true, Reason: "r"}, ledgererr.NotFound},
		{board, SetFreeze{Consumer: Consumer{CompanyID: "co", TargetType: "robot", TargetID: "x"}, Frozen: true, Reason: "r"}, ledgererr.Invalid},
	} {
		if _, err := s.f.h().Freeze(s.ctx, tc.req, tc.c); ledgererr.CodeOf(err) != tc.want {
			t.Errorf("freeze %+v: %v, want %s", tc.c, err, tc.want)
		}
	}
}

func (s *freezeScene) companyFreezeStopsEveryone(t *testing.T) {
	t.Helper()
	f, ctx := s.f, s.ctx
	res, err := f.h().Freeze(ctx, board, SetFreeze{Consumer: Consumer{CompanyID: "co"}, Frozen: true, Reason: "incident"})
	if err != nil || !res.Changed || res.Position == 0 {
		t.Fatalf("freeze: %+v %v", res, err)
	}
	if again, err := f.h().Freeze(ctx, board, SetFreeze{Consumer: Consumer{CompanyID: "co"}, Frozen: true, Reason: "again"}); err != nil ||
		again.Changed || again.Position != res.Position {
		t.Fatalf("freezing a frozen company: %+v %v", again, err)
	}
	for _, agent := range []Request{s.x, s.y, s.z} {
		_, err := f.h().ResolveValues(ctx, agent, Resolve{})
		if ledgererr.CodeOf(err) != ledgererr.Forbidden {
			t.Fatalf("resolve while frozen: %v, want 403", err)
		}
	}
	if got := outcomesOf(t, f, "x"); len(got) != 2 || got[1] != CompanyFrozen {
		t.Fatalf("x's recorded outcomes: %v", got)
	}
	if got := outcomesOf(t, f, "z"); len(got) != 1 || got[0] != CompanyFrozen {
		t.Fatalf("z (nothing bound) has no record of its attempt: %v", got)
	}
	if state, err := (queries.Freezes{DB: f.pool}).Company(ctx, board.Actor, "co"); err != nil || !state.Frozen ||
		state.Reason != "incident" || state.By != "board:test" || state.Position != res.Position {
		t.Fatalf("company freeze state: %+v %v", state, err)
	}
}

func (s *freezeScene) consumerFreezeStopsThatConsumer(t *testing.T) {
	t.Helper()
	f, ctx, x, y := s.f, s.ctx, s.x, s.y
	if res, err := f.h().Freeze(ctx, board, SetFreeze{Consumer: Consumer{CompanyID: "co"}}); err != nil || !res.Changed {
		t.Fatalf("unfreeze: %+v %v", res, err)
	}
	if !s.resolves(t, x) || !s.resolves(t, y) {
		t.Fatal("resolution after the unfreeze failed")
	}
	if _, err := f.h().Freeze(ctx, board, SetFreeze{Consumer: freezeConsumer("x"), Frozen: true, Reason: "x leaked"}); err != nil {
		t.Fatal(err)
	}
	if s.resolves(t, x) || !s.resolves(t, y) {
		t.Fatal("a consumer freeze must stop that consumer only")
	}
	if got := outcomesOf(t, f, "x"); got[len(got)-1] != ConsumerFrozen {
		t.Fatalf("x's recorded outcomes: %v", got)
	}
	if state, err := (queries.Freezes{DB: f.pool}).Consumer(ctx, board.Actor, freezeConsumer("x")); err != nil || !state.Frozen || state.Reason != "x leaked" {
		t.Fatalf("consumer freeze state: %+v %v", state, err)
	}
	if _, err := f.h().Freeze(ctx, board, SetFreeze{Consumer: freezeConsumer("x"), Reason: "new key"}); err != nil {
		t.Fatal(err)
	}
	if !s.resolves(t, x) {
		t.Fatal("resolution after the consumer's unfreeze failed")
	}
}

// Two processes on one database: the second freezes the company between the first's
// read of the streams and its access append. The first must not release the value it
// decided on before the freeze; it decides again and is refused.
func TestAFreezeElsewhereStopsAResolutionInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	elsewhere := otherProcess(t, f)

	sec, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: "api key", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	if _, err := f.h().Bind(ctx, board, CreateBinding{Consumer: x, SecretID: sec.SecretID, ConfigPath: "env.API_KEY"}); err != nil {
		t.Fatal(err)
	}
	agent := f.agentFor(t, x)
	if _, err := f.h().ResolveValues(ctx, agent, Resolve{}); err != nil { // warms this process's caches
		t.Fatal(err)
	}
	for _, c := range []SetFreeze{{Consumer: Consumer{CompanyID: "co"}, Frozen: true, Reason: "incident"},
		{Consumer: x, Frozen: true, Reason: "x leaked"}} {
		froze := false
		f.log.setBefore(func() {
			if !froze {
				froze = true
				if _, err := elsewhere.Freeze(ctx, board, c); err != nil {
					t.Error(err)
				}
			}
		})
		res, err := f.h().ResolveValues(ctx, agent, Resolve{})
		f.log.setBefore(nil)
		if !froze || ledgererr.CodeOf(err) != ledgererr.Forbidden || len(res.Values) > 0 {
			t.Fatalf("a resolution in flight during a freeze: froze %v, %v, %d values", froze, err, len(res.Values))
		}
		want := CompanyFrozen
		if c.TargetType != "" {
			want = ConsumerFrozen
		}
		if got := outcomesOf(t, f, "x"); got[len(got)-1] != want {
			t.Fatalf("recorded outcomes: %v, want the last %s", got, want)
		}
		// The refused attempt is recorded after the freeze, and nothing resolved after it.
		var afterFreeze int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM secret_access_events a WHERE a.outcome = 'resolved' AND a.position >
			(SELECT max(position) FROM ledger_log WHERE event_type IN ('company.frozen', 'consumer.frozen'))`).Scan(&afterFreeze); err != nil || afterFreeze != 0 {
			t.Fatalf("%d resolved accesses after the freeze (%v)", afterFreeze, err)
		}
		if _, err := f.h().Freeze(ctx, board, SetFreeze{Consumer: c.Consumer}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRevokeEveryKeyOfAConsumer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
	auth := f.h()
	issue := func(target string) string {
		k, err := f.h().IssueKey(ctx, board, IssueAgentKey{Consumer: Consumer{CompanyID: "co", TargetType: "agent", TargetID: target}})
		if err != nil {
			t.Fatal(err)
		}
		return k.Token
	}
	x1, x2, y := issue("x"), issue("x"), issue("y")
	other, err := f.h().IssueKey(ctx, board, IssueAgentKey{Consumer: Consumer{CompanyID: "co2", TargetType: "agent", TargetID: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	x := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}
	if _, err := f.h().RevokeConsumerKeys(ctx, Request{Actor: actor.Actor{Type: actor.Board, ID: "b", Companies: []string{"co2"}}}, x); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("another company's board: %v", err)
	}
	res, err := f.h().RevokeConsumerKeys(ctx, board, x)
	if err != nil || len(res.KeyIDs) != 2 || res.Position == 0 {
		t.Fatalf("revoke all of x: %+v %v", res, err)
	}
	for _, tok := range []string{x1, x2} {
		if _, err := auth.AuthenticateAgent(ctx, tok); ledgererr.CodeOf(err) != ledgererr.Unauthorized {
			t.Errorf("a revoked key of x still authenticates: %v", err)
		}
	}
	for _, tok := range []string{y, other.Token} {
		if _, err := auth.AuthenticateAgent(ctx, tok); err != nil {
			t.Errorf("a key of another consumer was revoked: %v", err)
		}
	}
	if again, err := f.h().RevokeConsumerKeys(ctx, board, x); err != nil || len(again.KeyIDs) != 0 {
		t.Fatalf("revoke all again: %+v %v", again, err)
	}
}
