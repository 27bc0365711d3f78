package localenc

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
)

// staged is one Stage of a test: what it stored and the write to run.
type staged struct {
	ref   providers.Ref
	value string
	st    providers.Stored
	w     providers.StagedWrite
}

func stage(t *testing.T, p *Provider, secretID string, version int) staged {
	t.Helper()
	ref := providers.Ref{CompanyID: "co", SecretID: secretID, Version: version}
	value := fmt.Sprintf("%s v%d", secretID, version)
	st, w, err := p.Stage(context.Background(), ref, providers.NewValue([]byte(value)))
	if err != nil {
		t.Fatal(err)
	}
	if w.Batch == nil {
		t.Fatalf("the staged write of %s has no batch", secretID)
	}
	return staged{ref: ref, value: value, st: st, w: w}
}

// runMerged runs the merged statement of writes in a transaction of its own, as the
// ledger runs it in a shared one, and returns the count each member's row answered (-1
// for none).
func runMerged(t *testing.T, pool *pgxpool.Pool, writes ...staged) []int64 {
	t.Helper()
	members := make([]any, len(writes))
	for i, w := range writes {
		members[i] = w.w.Batch
	}
	sql, args := writes[0].w.Batch.Merge(members)
	counts := make([]int64, len(writes))
	for i := range counts {
		counts[i] = -1
	}
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var i int
		var n int64
		if err := rows.Scan(&i, &n); err != nil {
			t.Fatal(err)
		}
		counts[i] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return counts
}

// resolves says whether a provider with nothing cached reads w's value back.
func resolves(t *testing.T, pool *pgxpool.Pool, w staged) bool {
	t.Helper()
	v, err := testProvider(t, pool, 7, "reader").Resolve(context.Background(), w.ref, w.st.ProviderVersionRef)
	return err == nil && string(v.Reveal()) == w.value
}

// The staged writes of several appends merged into one statement, as in a transaction
// the appends share, store every value: of secrets with a data key (two versions of one)
// and of new secrets, whose keys the statement creates; then, in a statement that creates
// no key, of secrets that all have one. Each member counts 1.
func TestMergedStagedWritesStoreEveryValue(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	p := testProvider(t, pool, 7, "batch")
	if _, err := p.Put(context.Background(), providers.Ref{CompanyID: "co", SecretID: "sec-old", Version: 1},
		providers.NewValue([]byte("first"))); err != nil {
		t.Fatal(err)
	}
	versions := map[string]int{"sec-old": 1}
	for _, round := range [][]string{{"sec-old", "sec-new-a", "sec-old", "sec-new-b"}, {"sec-new-b", "sec-old", "sec-new-a"}} {
		var writes []staged
		for _, id := range round {
			versions[id]++
			writes = append(writes, stage(t, p, id, versions[id]))
		}
		counts := runMerged(t, pool, writes...)
		for i, w := range writes {
			if counts[i] != 1 {
				t.Errorf("the staged write of %s v%d counted %d, want 1", w.ref.SecretID, w.ref.Version, counts[i])
			}
			if !resolves(t, pool, w) {
				t.Errorf("%s v%d does not resolve to its value", w.ref.SecretID, w.ref.Version)
			}
		}
	}
}

// Two writers (two processes) staging the first version of one secret both create its
// data key; only the writer whose statement created it stores its value, the other's
// member counts 0 (and its append fails), whether the winner's write ran alone before
// or in the same merged statement; the other members of the statement are stored.
func TestMergedStagedWritesRefuseTheLoserOfAKeyRace(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	one, two := testProvider(t, pool, 7, "one"), testProvider(t, pool, 7, "two")

	winner, loser, other := stage(t, one, "sec-race", 1), stage(t, two, "sec-race", 1), stage(t, two, "sec-other", 1)
	var n int64
	if err := pool.QueryRow(context.Background(), winner.w.SQL, winner.w.Args...).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the winner's own statement: %d stored, %v", n, err)
	}
	if counts := runMerged(t, pool, loser, other); counts[0] != 0 || counts[1] != 1 {
		t.Fatalf("after the key was created: the loser counted %d and the other member %d, want 0 and 1", counts[0], counts[1])
	}
	if !resolves(t, pool, winner) || resolves(t, pool, loser) || !resolves(t, pool, other) {
		t.Fatal("the winner's and the other member's values must resolve, the loser's not")
	}

	a, b := stage(t, one, "sec-race-2", 1), stage(t, two, "sec-race-2", 1)
	counts := runMerged(t, pool, a, b)
	if counts[0]+counts[1] != 1 || counts[0] < 0 || counts[1] < 0 {
		t.Fatalf("two creators of one key in one statement counted %v, want one 1 and one 0", counts)
	}
	won, lost := a, b
	if counts[1] == 1 {
		won, lost = b, a
	}
	if !resolves(t, pool, won) || resolves(t, pool, lost) {
		t.Fatal("in one statement: the key's creator's value must resolve, the other's not")
	}
}
