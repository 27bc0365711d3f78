package eventstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// sideInsert is a batchable insert into side_rows that answers n*10.
type sideInsert struct {
	id     string
	n      int
	merges *atomic.Int32
}

type sideInsertKind struct{}

func (sideInsert) BatchKey() any { return sideInsertKind{} }

func (s sideInsert) Merge(members []any) (string, []any) {
	s.merges.Add(1)
	ids, ns := make([]string, len(members)), make([]int32, len(members))
	for i, m := range members {
		ids[i], ns[i] = m.(sideInsert).id, int32(m.(sideInsert).n)
	}
	return `WITH m AS (SELECT * FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS m(id, n, i)),
			ins AS (INSERT INTO side_rows (id, n) SELECT id, n FROM m RETURNING id, n)
		SELECT m.i - 1, ins.n * 10 FROM m JOIN ins USING (id)`, []any{ids, ns}
}

// sideRead is a batchable read of one side row's n.
type sideRead struct {
	id     string
	merges *atomic.Int32
}

type sideReadKind struct{}

func (sideRead) BatchKey() any { return sideReadKind{} }

func (s sideRead) Merge(members []any) (string, []any) {
	s.merges.Add(1)
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.(sideRead).id
	}
	return `SELECT m.i - 1, n FROM unnest($1::text[]) WITH ORDINALITY AS m(want, i) JOIN side_rows ON id = want`, []any{ids}
}

// sideStatements are an append's two batchable statements: insert id with n, then read
// back readID's n. Their answers land in got; a read that found no row sets missing.
type sideStatements struct {
	inserted, read int
	missing        bool
}

func (a *sideStatements) statements(id string, n int, readID string, inserts, reads *atomic.Int32) []eventstore.Statement {
	return []eventstore.Statement{
		{SQL: `INSERT INTO side_rows (id, n) VALUES ($1, $2) RETURNING n * 10`, Args: []any{id, n},
			Row: func(r pgx.Row) error { return r.Scan(&a.inserted) }, Batch: sideInsert{id: id, n: n, merges: inserts}},
		{SQL: `SELECT n FROM side_rows WHERE id = $1`, Args: []any{readID},
			Row: func(r pgx.Row) error {
				err := r.Scan(&a.read)
				if errors.Is(err, pgx.ErrNoRows) {
					a.missing = true
					return nil
				}
				return err
			}, Batch: sideRead{id: readID, merges: reads}},
	}
}

func sideTable(t *testing.T) (*eventstore.Store, func(string) int) {
	t.Helper()
	pool, _ := pgtest.NewMigratedPool(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE side_rows (id text PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	events := func(stream string) int {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_log WHERE stream_id = $1`, stream).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return startStore(t, pool, eventstore.Config{}), events
}

// The statements of one kind from the appends of a transaction run as one statement,
// where the first of them would have, and every member gets its own answer: the reads,
// merged after the first append's insert, see the rows of the later appends' inserts,
// and a read of a row that is not there gets the answer of an empty result.
func TestBatchedStatementsRunOncePerTransaction(t *testing.T) {
	t.Parallel()
	s, events := sideTable(t)
	var inserts, reads atomic.Int32
	got := make([]sideStatements, 4)
	readIDs := []string{"r2", "r0", "nowhere", "r3"}
	var appends []eventstore.Append
	for i, stream := range []string{"s0", "s1", "s2", "s3"} {
		appends = append(appends, eventstore.Append{Stream: stream, Expected: eventstore.NoStream,
			Events:     []eventstore.EventData{ev("x.done", "co", map[string]int{"n": i})},
			Statements: got[i].statements("r"+stream[1:], i+1, readIDs[i], &inserts, &reads)})
	}
	_, errs := eventstore.CommitTogether(s, appends)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if inserts.Load() != 1 || reads.Load() != 1 {
		t.Fatalf("the inserts merged %d times and the reads %d times in one transaction, want once each", inserts.Load(), reads.Load())
	}
	want := []sideStatements{{inserted: 10, read: 3}, {inserted: 20, read: 1}, {inserted: 30, missing: true}, {inserted: 40, read: 4}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("append %d was answered %+v, want %+v", i, got[i], want[i])
		}
		if n := events("s" + string(rune('0'+i))); n != 1 {
			t.Errorf("stream s%d holds %d events, want 1", i, n)
		}
	}

	// An append alone runs its statements as they are.
	var alone sideStatements
	if _, err := s.AppendWith(context.Background(), eventstore.Append{Stream: "s4", Expected: eventstore.NoStream,
		Events:     []eventstore.EventData{ev("x.done", "co", map[string]int{"n": 4})},
		Statements: alone.statements("r4", 5, "r4", &inserts, &reads)}); err != nil {
		t.Fatal(err)
	}
	if inserts.Load() != 1 || reads.Load() != 1 || alone != (sideStatements{inserted: 50, read: 5}) {
		t.Fatalf("an append alone: merges %d and %d, answered %+v", inserts.Load(), reads.Load(), alone)
	}
}

// A merged statement that fails fails its transaction; the appends are then tried one
// by one, so that only the one whose statement fails gets an error, the same as it gets
// in a transaction of its own, and the others commit.
func TestAFailingMergedStatementFailsOnlyItsAppend(t *testing.T) {
	t.Parallel()
	s, events := sideTable(t)
	ctx := context.Background()
	var inserts, reads atomic.Int32
	var first sideStatements
	if _, err := s.AppendWith(ctx, eventstore.Append{Stream: "first", Expected: eventstore.NoStream,
		Events: []eventstore.EventData{ev("x.done", "co", map[string]int{"n": 0})}, Statements: first.statements("taken", 1, "taken", &inserts, &reads)}); err != nil {
		t.Fatal(err)
	}
	got := make([]sideStatements, 3)
	var appends []eventstore.Append
	for i, id := range []string{"a", "taken", "c"} {
		appends = append(appends, eventstore.Append{Stream: "s-" + id, Expected: eventstore.NoStream,
			Events:     []eventstore.EventData{ev("x.done", "co", map[string]int{"n": i})},
			Statements: got[i].statements(id, i+2, id, &inserts, &reads)})
	}
	_, errs := eventstore.CommitTogether(s, appends)
	if inserts.Load() != 1 {
		t.Fatalf("the inserts merged %d times, want once (the transaction that failed)", inserts.Load())
	}
	if errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("appends of a, taken, c answered %v", errs)
	}
	if got[0] != (sideStatements{inserted: 20, read: 2}) || got[2] != (sideStatements{inserted: 40, read: 4}) {
		t.Errorf("the appends that committed were answered %+v and %+v", got[0], got[2])
	}
	var again sideStatements
	_, alone := s.AppendWith(ctx, eventstore.Append{Stream: "s-alone", Expected: eventstore.NoStream,
		Events: []eventstore.EventData{ev("x.done", "co", map[string]int{"n": 9})}, Statements: again.statements("taken", 3, "taken", &inserts, &reads)})
	if alone == nil || errs[1].Error() != alone.Error() {
		t.Errorf("the failing append in a shared transaction: %v; alone: %v", errs[1], alone)
	}
	for stream, want := range map[string]int{"s-a": 1, "s-taken": 0, "s-c": 1} {
		if n := events(stream); n != want {
			t.Errorf("stream %s holds %d events, want %d", stream, n, want)
		}
	}
}
