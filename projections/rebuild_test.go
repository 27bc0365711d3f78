package projections_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/projections"
)

const rebuildCompany = "co-rebuild"

// liveStore is a migrated database with a running store that projects inline, as the
// server's does.
func liveStore(t *testing.T) (*pgxpool.Pool, *eventstore.Store) {
	t.Helper()
	pool, _ := pgtest.NewMigratedPool(t)
	store := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey, Projector: projections.Inline(projections.All())})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = store.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return pool, store
}

// appendMix appends round r of a mix of every kind of event the projections fold:
// secrets created, rotated, accessed, updated, deleted; bindings made and removed;
// envs, agent keys, subscribers and vaults.
func appendMix(t *testing.T, store *eventstore.Store, r int) {
	t.Helper()
	if err := tryMix(store, r); err != nil {
		t.Fatal(err)
	}
}

// tryMix is appendMix for a goroutine other than the test's.
func tryMix(store *eventstore.Store, r int) (err error) {
	ctx := context.Background()
	meta := eventstore.Metadata{ActorType: "board", ActorID: "t\"q", RequestID: fmt.Sprintf("req-%d", r)}
	app := func(stream string, typ string, payloads ...any) {
		var evs []eventstore.EventData
		for _, p := range payloads {
			e, perr := events.New(typ, rebuildCompany, p, meta)
			if perr != nil && err == nil {
				err = perr
			}
			evs = append(evs, e)
		}
		if err != nil {
			return
		}
		if _, aerr := store.Append(ctx, stream, eventstore.AnyVersion, evs...); aerr != nil {
			err = fmt.Errorf("append %s: %w", typ, aerr)
		}
	}
	id := fmt.Sprintf("s-%04d", r)
	target := fmt.Sprintf("agent-%d", r%7)
	app(events.SecretStream(id), events.SecretCreated, events.SecretCreatedV1{SecretID: id, Name: "N" + id, Key: "k" + id,
		Provider: "local_encrypted", ManagedMode: "paperclip_managed", ProviderVersionRef: "lev_" + id, Fingerprint: "fp"})
	app(events.SecretStream(id), events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: id, Version: 2, Fingerprint: "fp2"},
		events.SecretVersionAddedV1{SecretID: id, Version: 3, Fingerprint: "fp3"})
	app(events.ConsumerStream(rebuildCompany, "agent", target), events.BindingCreated, events.BindingCreatedV1{
		BindingID: "b-" + id, SecretID: id, TargetType: "agent", TargetID: target, ConfigPath: "env." + id, VersionSelector: "latest", Required: true})
	var acc []any
	for i := range 20 {
		outcome := "resolved"
		if i%5 == 4 {
			outcome = "binding_missing"
		}
		acc = append(acc, events.SecretAccessedV1{SecretID: id, Version: 3, TargetType: "agent", TargetID: target,
			ConfigPath: "env." + id, RunID: fmt.Sprintf("run-%d", i), Outcome: outcome})
	}
	app(events.AccessStream(rebuildCompany, "agent", target), events.SecretAccessed, acc...)
	app(events.ConsumerStream(rebuildCompany, "agent", target), events.ConsumerEnvSet, events.ConsumerEnvSetV1{
		TargetType: "agent", TargetID: target, Env: map[string]events.EnvEntryV1{"K": {Type: "secret_ref", SecretID: id}}})
	switch r % 4 {
	case 0:
		app(events.SecretStream(id), events.SecretUpdated, events.SecretUpdatedV1{SecretID: id, Description: ptr("round " + id)})
		app(events.AgentKeyStream("k-"+id), events.AgentKeyIssued, events.AgentKeyIssuedV1{KeyID: "k-" + id, TargetType: "agent",
			TargetID: target, TokenHash: fmt.Sprintf("%064x", r)})
	case 1:
		app(events.ConsumerStream(rebuildCompany, "agent", target), events.BindingRemoved, events.BindingRemovedV1{BindingID: "b-" + id})
		app(events.SecretStream(id), events.SecretDeleted, events.SecretDeletedV1{SecretID: id})
	case 2:
		app(events.VaultStream(rebuildCompany), events.VaultCreated, events.VaultCreatedV1{VaultID: "v-" + id, DisplayName: "V " + id,
			Provider: "aws_secrets_manager", Status: "ready", Config: map[string]string{"region": "eu-west-1"}})
	case 3:
		app(events.EventSubscriberStream("sub-"+id), events.EventSubscriberIssued, events.EventSubscriberIssuedV1{
			SubscriberID: "sub-" + id, PasswordHash: "$2a$hash"})
	}
	return err
}

func ptr[T any](v T) *T { return &v }

// snapshot is every read model's rows, as text (the checkpoints say where a rebuild
// ended, which appends do not move).
func snapshot(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET TIME ZONE 'UTC'`); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, p := range projections.All() {
		for _, table := range p.Tables() {
			q := `SELECT coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM ` + table + ` t`
			var rows string
			if err := conn.QueryRow(ctx, q).Scan(&rows); err != nil {
				t.Fatalf("snapshot %s: %v", table, err)
			}
			parts = append(parts, "== "+table+"\n"+rows)
		}
	}
	return strings.Join(parts, "\n")
}

// foldFromScratch projects the log of pool into a fresh database with the inline
// projections, in one transaction, and returns that database's snapshot: the read
// models as a rebuild that nothing disturbed must leave them. It reads the sealed log,
// once the sealer has chained every event committed before the call.
func foldFromScratch(t *testing.T, pool *pgxpool.Pool, store *eventstore.Store) string {
	t.Helper()
	ctx := context.Background()
	if _, err := store.SealedThrough(ctx); err != nil {
		t.Fatal(err)
	}
	ref, _ := pgtest.NewMigratedPool(t)
	tx, err := ref.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for after := int64(0); ; {
		evs, err := eventstore.ReadAll(ctx, pool, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		if err := projections.Inline(projections.All()).Project(ctx, tx, evs); err != nil {
			t.Fatal(err)
		}
		after = evs[len(evs)-1].Position
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return snapshot(t, ref)
}

func schemaExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// Appends commit while a rebuild folds (it holds no lock they wait for), readers see
// the old tables meanwhile, and after the swap the read models are exactly a fold of
// the whole log from scratch, the appends made during the rebuild included, and
// appends after the swap project into the new tables.
func TestRebuildWhileAppending(t *testing.T) {
	t.Parallel()
	pool, store := liveStore(t)
	for r := range 30 {
		appendMix(t, store, r)
	}
	// The rebuild folds the sealed log up to the head it sees: once the sealer has
	// chained every event appended so far, that is this head.
	head, err := store.SealedThrough(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	finished, resume := startHeldRebuild(t, pool)
	appendWhileHeld(t, pool, store, finished)
	// The fold keeps no transaction open while it is held between pages: the sealer,
	// which waits for every transaction older than its probe, chains those appends.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err = store.SealedThrough(sctx)
	cancel()
	close(resume)
	if err != nil {
		t.Fatalf("the appends made during the fold were not sealed while it was held: %v", err)
	}
	o := <-finished
	if o.err != nil {
		t.Fatalf("rebuild: %v", o.err)
	}
	// Every committed event is folded exactly once: those up to the head by the fold,
	// those appended during it (sealed or not yet) under the lock.
	total, after := committedEvents(t, pool, 0), committedEvents(t, pool, head)
	if o.res.Head != head || o.res.Events != total || o.res.CaughtUp != after || o.res.CaughtUp == 0 || o.res.Blocked <= 0 {
		t.Fatalf("result %+v; head before %d, log %d events, %d after the head", o.res, head, total, after)
	}
	checkpointsAtTheEndOfTheLog(t, pool)
	if schemaExists(t, pool, projections.ShadowSchema) || schemaExists(t, pool, projections.RetiredSchema) {
		t.Fatal("the rebuild left its schemas behind")
	}
	assertSwappedTablesTakeAppends(t, pool, store)
}

// checkpointsAtTheEndOfTheLog checks that every projection's checkpoint is the last
// position of the log (sealed or not), where the rebuild that just ended stopped.
func checkpointsAtTheEndOfTheLog(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	var last int64
	if err := pool.QueryRow(context.Background(), `SELECT max(position) FROM ledger_log`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	for _, p := range projections.All() {
		var at int64
		if err := pool.QueryRow(context.Background(), `SELECT position FROM projection_checkpoints WHERE projection = $1`,
			p.Name()).Scan(&at); err != nil || at != last {
			t.Fatalf("checkpoint of %s after the rebuild: %d (%v), want %d", p.Name(), at, err, last)
		}
	}
}

// committedEvents is how many events the log holds after position after, sealed or
// not: every committed event (positions need not be dense).
func committedEvents(t *testing.T, pool *pgxpool.Pool, after int64) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_log WHERE position > $1`, after).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type rebuildOutcome struct {
	res projections.RebuildResult
	err error
}

// startHeldRebuild starts a rebuild of every projection in pages of 50 and returns once
// it is held after its second page; closing resume lets it go on.
func startHeldRebuild(t *testing.T, pool *pgxpool.Pool) (finished <-chan rebuildOutcome, resume chan struct{}) {
	t.Helper()
	paused, resume := make(chan struct{}), make(chan struct{})
	rb := projections.Rebuilder{Pool: pool, Projections: projections.All(), PageSize: 50,
		AfterPage: func(ctx context.Context, applied int64) error {
			if applied == 100 {
				close(paused)
				select {
				case <-resume:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		}}
	done := make(chan rebuildOutcome, 1)
	go func() {
		res, err := rb.Run(context.Background())
		done <- rebuildOutcome{res, err}
	}()
	select {
	case <-paused:
	case o := <-done:
		t.Fatalf("the rebuild ended before its second page: %+v", o)
	}
	return done, resume
}

// appendWhileHeld appends from another goroutine while the rebuild is held mid-fold:
// the appends commit, and their rows are live.
func appendWhileHeld(t *testing.T, pool *pgxpool.Pool, store *eventstore.Store, finished <-chan rebuildOutcome) {
	t.Helper()
	appended := make(chan error, 1)
	go func() {
		for r := 30; r < 40; r++ {
			if err := tryMix(store, r); err != nil {
				appended <- err
				return
			}
		}
		appended <- nil
	}()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatalf("append during the rebuild: %v", err)
		}
	case o := <-finished:
		t.Fatalf("the rebuild finished before the appends made during it returned: %+v", o)
	case <-time.After(60 * time.Second):
		t.Fatal("appends did not commit while a rebuild was folding")
	}
	var live int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM company_secrets WHERE id = 's-0039'`).Scan(&live); err != nil || live != 1 {
		t.Fatalf("a secret created during the rebuild is not in the live read model: %d %v", live, err)
	}
	select {
	case o := <-finished:
		t.Fatalf("the rebuild finished while held: %+v", o)
	default:
	}
}

// assertSwappedTablesTakeAppends checks that the swapped-in tables take appends (the
// inline projection's statements, cached on the pool's connections, resolve to them),
// unique indexes included, and end as a fold from scratch would.
func assertSwappedTablesTakeAppends(t *testing.T, pool *pgxpool.Pool, store *eventstore.Store) {
	t.Helper()
	for r := 40; r < 45; r++ {
		appendMix(t, store, r)
	}
	ev, _ := events.New(events.SecretCreated, rebuildCompany, events.SecretCreatedV1{SecretID: "dup", Name: "Ns-0044", Key: "other",
		Provider: "local_encrypted", ManagedMode: "paperclip_managed"}, eventstore.Metadata{ActorType: "board", ActorID: "t"})
	if _, err := store.Append(context.Background(), events.SecretStream("dup"), eventstore.NoStream, ev); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("a second live secret with the same name after the swap: %v", err)
	}
	got, want := snapshot(t, pool), foldFromScratch(t, pool, store)
	if got != want {
		t.Fatalf("read models after a rebuild under appends differ from a fold from scratch:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(got, "s-0044") || !strings.Contains(got, "== consumer_envs\n(") {
		t.Fatalf("the snapshot misses rows it must have: %s", got)
	}
}

// A rebuild cancelled mid-fold leaves the live tables as they were; a second rebuild
// while one runs is refused; a shadow a dead rebuild left behind is cleared by the
// next one, which succeeds.
func TestRebuildInterruptedAndConcurrent(t *testing.T) {
	t.Parallel()
	pool, store := liveStore(t)
	for r := range 12 {
		appendMix(t, store, r)
	}
	// The rebuild folds (and is held within) the sealed log: wait until it holds them all.
	if _, err := store.SealedThrough(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, pool)

	ctx, cancel := context.WithCancel(context.Background())
	paused := make(chan struct{})
	rb := projections.Rebuilder{Pool: pool, Projections: projections.All(), PageSize: 40,
		AfterPage: func(c context.Context, applied int64) error {
			if applied == 80 {
				close(paused)
				<-c.Done() // held until the test cancels it
				return c.Err()
			}
			return nil
		}}
	finished := make(chan error, 1)
	go func() {
		_, err := rb.Run(ctx)
		finished <- err
	}()
	<-paused
	_, err := projections.Rebuild(context.Background(), pool, projections.All())
	if !errors.Is(err, projections.ErrRebuildRunning) || ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("a second rebuild while one runs: %v", err)
	}
	cancel()
	if err := <-finished; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled rebuild: %v", err)
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("a cancelled rebuild changed the live read models:\nbefore %s\nafter  %s", before, after)
	}

	// A rebuild that died between its fold and its swap leaves a shadow schema.
	if _, err := pool.Exec(context.Background(), `CREATE SCHEMA `+projections.ShadowSchema+`;
		CREATE TABLE `+projections.ShadowSchema+`.company_secrets (id text)`); err != nil {
		t.Fatal(err)
	}
	// The cancelled rebuild's connection may have been closed by the cancellation; its
	// backend then gives the session lock up when it notices, a moment later.
	n, err := projections.Rebuild(context.Background(), pool, projections.All())
	for deadline := time.Now().Add(10 * time.Second); errors.Is(err, projections.ErrRebuildRunning) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // polling the server's release of a dead session's lock
		n, err = projections.Rebuild(context.Background(), pool, projections.All())
	}
	if err != nil {
		t.Fatalf("rebuild after an interrupted one: %v", err)
	}
	if total := committedEvents(t, pool, 0); n != total {
		t.Fatalf("applied %d of %d events", n, total)
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("a rebuild of an unchanged log changed the read models:\nbefore %s\nafter  %s", before, after)
	}
	if schemaExists(t, pool, projections.ShadowSchema) {
		t.Fatal("the leftover shadow schema is still there")
	}
}

// A query that holds a live read model past the swap's lock timeout fails the swap
// (appends wait behind it meanwhile) and leaves the live read models as they were.
func TestRebuildSwapGivesWayToALongQuery(t *testing.T) {
	t.Parallel()
	pool, store := liveStore(t)
	for r := range 4 {
		appendMix(t, store, r)
	}
	before := snapshot(t, pool)
	ctx := context.Background()
	reader, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback(ctx)
	if _, err := reader.Exec(ctx, `SELECT count(*) FROM company_secret_bindings`); err != nil {
		t.Fatal(err)
	}
	_, err = projections.Rebuild(ctx, pool, projections.All())
	if ledgererr.CodeOf(err) != ledgererr.Unavailable {
		t.Fatalf("a swap behind a long query: %v", err)
	}
	if err := reader.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("a failed swap changed the live read models:\nbefore %s\nafter  %s", before, after)
	}
	appendMix(t, store, 4) // appends go on after the failed swap
	if after := snapshot(t, pool); after == before || !strings.Contains(after, "s-0004") {
		t.Fatalf("the append after a failed swap is not in the live read models: %s", after)
	}
	if _, err := projections.Rebuild(ctx, pool, projections.All()); err != nil {
		t.Fatalf("rebuild once the query ended: %v", err)
	}
	if got, want := snapshot(t, pool), foldFromScratch(t, pool, store); got != want {
		t.Fatalf("after the second rebuild:\n got %s\nwant %s", got, want)
	}
}
