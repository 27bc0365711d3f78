package audit_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/localenc"
	"github.com/secretsledger/secretsledger/queries"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// mustKey is an integrity key for the commands' agent keys.
func mustKey(t *testing.T) integrity.Key {
	t.Helper()
	k, err := integrity.FromSecret(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// directory is the read-model lookup the commands need (Unbind finds a binding's
// consumer there), as the server wires it.
type directory struct{ queries.Consumers }

func (d directory) ImportCandidates(ctx context.Context, companyID, vaultID string, names, keys []string) ([]commands.LiveSecret, error) {
	rows, err := d.Consumers.ImportCandidates(ctx, companyID, vaultID, names, keys)
	out := make([]commands.LiveSecret, len(rows))
	for i, r := range rows {
		out[i] = commands.LiveSecret(r)
	}
	return out, err
}

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const company = "aaaaaaaa-0000-4000-8000-000000000001"

var board = commands.Request{Actor: actor.Actor{Type: actor.Board, ID: "ops"}}

// history is a scripted life of one secret, run through the real commands against a
// real PostgreSQL, with the log position after each step.
type history struct {
	log                                             audit.Log
	owner                                           *pgxpool.Pool
	secret, key1, key2, bindingA1                   string
	afterBind, afterRead1, afterRotate, afterUnbind int64
	afterRevoke, afterDelete, afterPurge            int64
	timeOfBind, timeBeforeRotate, timeAfterRotate   time.Time
	h                                               *commands.Handlers
	store                                           *eventstore.Store
	// signKey is the instance's checkpoint key: it signs checkpoints and the
	// attestations of redacted exported events.
	signKey ed25519.PrivateKey
}

func value(s string) *providers.Value { v := providers.NewValue([]byte(s)); return &v }

func agent(keyID, target string) commands.Request {
	return commands.Request{Actor: actor.Actor{Type: actor.Agent, ID: keyID, Companies: []string{company},
		TargetType: "agent", TargetID: target}}
}

// script plays the scripted history on a fresh database.
func script(t *testing.T) *history {
	t.Helper()
	s, store, pool := newHistory(t)
	s.play(t, store, pool)
	return s
}

// newHistory wires the real commands, with the local encrypted provider and an inline
// projection, to a fresh database, as the server does.
func newHistory(t *testing.T) (*history, *eventstore.Store, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
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
	store := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Projector: projections.Inline(projections.All())})
	h := commands.New(commands.Config{Log: store, Providers: map[string]providers.Provider{providers.LocalEncrypted: local},
		DefaultProvider: providers.LocalEncrypted, RecoveryWindow: 24 * time.Hour, Now: time.Now,
		Directory: directory{queries.Consumers{DB: pool}}, Credentials: mustKey(t)})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = store.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	_, signKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &history{log: audit.Log{DB: pool, RedactionKey: signKey}, owner: ownerPool, h: h, store: store, signKey: signKey}
	return s, store, pool
}

// sealed waits until the sealer has chained every event appended so far and returns
// the sealed head: the audit queries read the sealed log, and the server waits so too
// before it answers them.
func (s *history) sealed(t *testing.T) int64 {
	t.Helper()
	head, err := s.store.SealedThrough(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return head
}

// play runs the scripted life of one secret and records the log position (and time)
// after each step that the tests look at.
func (s *history) play(t *testing.T, store *eventstore.Store, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	h := s.h
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	head := func() int64 {
		t.Helper()
		return s.sealed(t)
	}
	now := func() time.Time {
		t.Helper()
		s.sealed(t)
		var at time.Time
		must(pool.QueryRow(ctx, `SELECT max(recorded_at) FROM ledger_events`).Scan(&at))
		return at
	}
	a1 := commands.Consumer{CompanyID: company, TargetType: "agent", TargetID: "a1"}
	a2 := commands.Consumer{CompanyID: company, TargetType: "agent", TargetID: "a2"}

	res, err := h.Secrets.Create(ctx, board, commands.CreateSecret{CompanyID: company, Name: "db password", Value: value("pw-1")})
	must(err)
	s.secret = res.SecretID
	k1, err := h.AgentKeys.IssueKey(ctx, board, commands.IssueAgentKey{Consumer: a1, Label: "a1 key"})
	must(err)
	s.key1 = k1.KeyID
	b1, err := h.Consumers.Bind(ctx, board, commands.CreateBinding{Consumer: a1, SecretID: s.secret, ConfigPath: "env.DB", VersionSelector: "latest"})
	must(err)
	s.bindingA1, s.afterBind, s.timeOfBind = b1.BindingID, head(), now()
	_, err = h.Resolver.ResolveValues(ctx, agent(s.key1, "a1"), commands.Resolve{RunID: "run-1"})
	must(err)
	s.afterRead1, s.timeBeforeRotate = head(), now()
	_, err = h.Secrets.Rotate(ctx, board, commands.RotateSecret{SecretID: s.secret, Value: value("pw-2")})
	must(err)
	s.afterRotate, s.timeAfterRotate = head(), now()
	_, err = h.Resolver.ResolveValues(ctx, agent(s.key1, "a1"), commands.Resolve{RunID: "run-2"})
	must(err)
	_, err = h.Consumers.Bind(ctx, board, commands.CreateBinding{Consumer: a2, SecretID: s.secret, ConfigPath: "env.DB_OLD", VersionSelector: "1"})
	must(err)
	k2, err := h.AgentKeys.IssueKey(ctx, board, commands.IssueAgentKey{Consumer: a2})
	must(err)
	s.key2 = k2.KeyID
	_, err = h.Resolver.ResolveValues(ctx, agent(s.key2, "a2"), commands.Resolve{RunID: "run-3"})
	must(err)
	_, err = h.Consumers.Unbind(ctx, board, s.bindingA1)
	must(err)
	s.afterUnbind = head()
	// a1 asks for a path it is no longer bound at: a failure with no secret behind it.
	_, _ = h.Resolver.ResolveValues(ctx, agent(s.key1, "a1"), commands.Resolve{ConfigPaths: []string{"env.DB"}, RunID: "run-4"})
	_, err = h.AgentKeys.RevokeKey(ctx, board, s.key1)
	must(err)
	s.afterRevoke = head()
	_, err = h.Secrets.Delete(ctx, board, s.secret)
	must(err)
	s.afterDelete = head()
	// a2 is still bound: its attempt fails and is recorded against the secret.
	_, _ = h.Resolver.ResolveValues(ctx, agent(s.key2, "a2"), commands.Resolve{RunID: "run-5"})
	_, err = h.Secrets.Purge(ctx, board, s.secret, s.secret)
	must(err)
	s.afterPurge = head()
}

var ops = actor.Actor{Type: actor.Board, ID: "ops"}

func versions(spans []audit.VersionSpan) []int {
	var out []int
	for _, v := range spans {
		out = append(out, v.Version)
	}
	return out
}

func TestExposureAndStateFollowTheScriptedHistory(t *testing.T) {
	t.Parallel()
	s := script(t)
	ctx := context.Background()

	exp := checkWholeExposure(t, s)
	early, late := checkWindowedExposure(t, s)
	reach, err := s.log.ConsumerReach(ctx, ops, company, "agent", "a1", audit.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reach.Secrets) != 1 || reach.Secrets[0].SecretID != s.secret || reach.Secrets[0].Reads.Count != 2 ||
		len(reach.Unbound) != 1 || reach.Unbound[0].Outcome != commands.BindingMissing ||
		!reflect.DeepEqual(reach.Unbound[0].ConfigPaths, []string{"env.DB"}) || len(reach.AgentKeys) != 1 {
		t.Fatalf("a1's reach: %+v", reach)
	}
	checkStateOverTime(t, s)

	// The same answers after every read model is rebuilt from the log.
	before := []any{exp, early, late, reach, s.state(t, audit.AsOf{Position: s.afterRotate}), s.state(t, audit.AsOf{At: s.timeAfterRotate})}
	if _, err := projections.Rebuild(ctx, s.owner, projections.All()); err != nil {
		t.Fatal(err)
	}
	exp2, _ := s.log.SecretExposure(ctx, ops, s.secret, audit.Window{})
	early2, _ := s.log.SecretExposure(ctx, ops, s.secret, audit.Window{To: s.timeBeforeRotate})
	late2, _ := s.log.SecretExposure(ctx, ops, s.secret, audit.Window{From: s.timeAfterRotate})
	reach2, _ := s.log.ConsumerReach(ctx, ops, company, "agent", "a1", audit.Window{})
	after := []any{exp2, early2, late2, reach2, s.state(t, audit.AsOf{Position: s.afterRotate}), s.state(t, audit.AsOf{At: s.timeAfterRotate})}
	for i := range before {
		if !reflect.DeepEqual(before[i], after[i]) {
			t.Fatalf("answer %d changed after a rebuild:\nbefore %+v\nafter  %+v", i, before[i], after[i])
		}
	}
}

// checkWholeExposure checks the secret's exposure over all time: its history and each
// consumer's bindings, reads, failures and keys.
func checkWholeExposure(t *testing.T, s *history) audit.SecretExposure {
	t.Helper()
	exp, err := s.log.SecretExposure(context.Background(), ops, s.secret, audit.Window{})
	if err != nil {
		t.Fatal(err)
	}
	if exp.Position != s.afterPurge || exp.CompanyID != company || exp.Name != "db password" {
		t.Fatalf("exposure header: %+v", exp)
	}
	var statuses []string
	for _, c := range exp.Status {
		statuses = append(statuses, c.Status)
	}
	if strings.Join(statuses, ",") != "active,deleted,purged" || !reflect.DeepEqual(versions(exp.Versions), []int{1, 2}) {
		t.Fatalf("a purged secret's history: statuses %v versions %v", statuses, versions(exp.Versions))
	}
	if len(exp.Consumers) != 2 {
		t.Fatalf("consumers: %+v", exp.Consumers)
	}
	c1, c2 := exp.Consumers[0], exp.Consumers[1]
	if c1.TargetID != "a1" || len(c1.Bindings) != 1 || c1.Bindings[0].RemovedPosition != s.afterUnbind ||
		!reflect.DeepEqual(versions(c1.Bindings[0].Versions), []int{1, 2}) {
		t.Fatalf("a1's binding: latest must mean 1, then 2 after the rotation, until the unbind: %+v", c1.Bindings)
	}
	if c1.Reads.Count != 2 || !reflect.DeepEqual(c1.Reads.Versions, []int{1, 2}) ||
		!reflect.DeepEqual(c1.Reads.RunIDs, []string{"run-1", "run-2"}) || len(c1.Failures) != 0 {
		t.Fatalf("a1's reads: %+v failures %+v", c1.Reads, c1.Failures)
	}
	if len(c1.AgentKeys) != 1 || c1.AgentKeys[0].KeyID != s.key1 || c1.AgentKeys[0].RevokedAt == nil {
		t.Fatalf("a1's keys: %+v", c1.AgentKeys)
	}
	if c2.TargetID != "a2" || len(c2.Bindings) != 1 || c2.Bindings[0].RemovedAt != nil ||
		!reflect.DeepEqual(versions(c2.Bindings[0].Versions), []int{1}) {
		t.Fatalf("a2's pinned binding: %+v", c2.Bindings)
	}
	if c2.Reads.Count != 1 || !reflect.DeepEqual(c2.Reads.Versions, []int{1}) || len(c2.Failures) != 1 ||
		c2.Failures[0].Outcome != commands.SecretDeleted || c2.Failures[0].Count != 1 {
		t.Fatalf("a2's reads %+v and failures %+v", c2.Reads, c2.Failures)
	}
	if len(c2.AgentKeys) != 1 || c2.AgentKeys[0].RevokedAt != nil || !c2.AgentKeys[0].ActiveInWindow {
		t.Fatalf("a2's keys: %+v", c2.AgentKeys)
	}
	return exp
}

// checkWindowedExposure checks the exposure in windows before and after the rotation.
func checkWindowedExposure(t *testing.T, s *history) (early, late audit.SecretExposure) {
	t.Helper()
	ctx := context.Background()
	// A window that ends before the rotation: only a1 was bound, read once, version 1.
	early, err := s.log.SecretExposure(ctx, ops, s.secret, audit.Window{To: s.timeBeforeRotate})
	if err != nil {
		t.Fatal(err)
	}
	if len(early.Consumers) != 1 || early.Consumers[0].TargetID != "a1" || early.Consumers[0].Reads.Count != 1 ||
		!reflect.DeepEqual(versions(early.Consumers[0].Bindings[0].Versions), []int{1}) {
		t.Fatalf("exposure before the rotation: %+v", early.Consumers)
	}
	// A window after the rotation: a1's latest meant version 2 only.
	late, err = s.log.SecretExposure(ctx, ops, s.secret, audit.Window{From: s.timeAfterRotate})
	if err != nil {
		t.Fatal(err)
	}
	if len(late.Consumers) != 2 || !reflect.DeepEqual(versions(late.Consumers[0].Bindings[0].Versions), []int{2}) ||
		late.Consumers[0].Reads.Count != 1 {
		t.Fatalf("exposure after the rotation: %+v", late.Consumers)
	}
	return early, late
}

// state is the company's state as of as.
func (s *history) state(t *testing.T, as audit.AsOf) audit.State {
	t.Helper()
	st, err := s.log.State(context.Background(), ops, company, as)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkStateOverTime checks the company's state after each step of the script, by
// position and by time.
func checkStateOverTime(t *testing.T, s *history) {
	t.Helper()
	st := s.state(t, audit.AsOf{Position: s.afterBind})
	if st.Position != s.afterBind || len(st.Secrets) != 1 || st.Secrets[0].Status != "active" || st.Secrets[0].CurrentVersion != 1 ||
		len(st.Bindings) != 1 || st.Bindings[0].TargetID != "a1" || len(st.AgentKeys) != 1 || st.AgentKeys[0].RevokedAt != nil {
		t.Fatalf("state after the bind: %+v", st)
	}
	if byTime := s.state(t, audit.AsOf{At: s.timeOfBind}); !reflect.DeepEqual(byTime.Secrets, st.Secrets) ||
		!reflect.DeepEqual(byTime.Bindings, st.Bindings) {
		t.Fatalf("state at the bind's time differs from state at its position: %+v", byTime)
	}
	st = s.state(t, audit.AsOf{Position: s.afterUnbind})
	if st.Secrets[0].CurrentVersion != 2 || len(st.Bindings) != 1 || st.Bindings[0].TargetID != "a2" || len(st.AgentKeys) != 2 {
		t.Fatalf("state after the unbind: %+v", st)
	}
	st = s.state(t, audit.AsOf{Position: s.afterRevoke})
	if st.AgentKeys[0].RevokedAt == nil || st.AgentKeys[1].RevokedAt != nil {
		t.Fatalf("state after the revoke: %+v", st.AgentKeys)
	}
	if st = s.state(t, audit.AsOf{Position: s.afterDelete}); st.Secrets[0].Status != "deleted" {
		t.Fatalf("state after the delete: %+v", st.Secrets)
	}
	if st = s.state(t, audit.AsOf{Position: s.afterPurge}); st.Secrets[0].Status != "purged" || st.Secrets[0].CurrentVersion != 2 {
		t.Fatalf("state after the purge: %+v", st.Secrets)
	}
}

func TestAuditIsBoardOnlyAndScopedByCompany(t *testing.T) {
	t.Parallel()
	s := script(t)
	ctx := context.Background()
	other := actor.Actor{Type: actor.Board, ID: "b", Companies: []string{"bbbbbbbb-0000-4000-8000-000000000002"}}
	agentActor := actor.Actor{Type: actor.Agent, ID: s.key2, Companies: []string{company}, TargetType: "agent", TargetID: "a2"}
	for _, a := range []actor.Actor{other, agentActor} {
		if _, err := s.log.SecretExposure(ctx, a, s.secret, audit.Window{}); ledgererr.CodeOf(err) != ledgererr.NotFound {
			t.Fatalf("%v: exposure: %v", a, err)
		}
		if _, err := s.log.State(ctx, a, company, audit.AsOf{Position: 1}); ledgererr.CodeOf(err) != ledgererr.NotFound {
			t.Fatalf("%v: state: %v", a, err)
		}
	}
	if _, err := s.log.SecretExposure(ctx, ops, "no-such-secret", audit.Window{}); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("unknown secret: %v", err)
	}
}
