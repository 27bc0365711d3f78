package migrations_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/migrations"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func files(m map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, body := range m {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func runner(t *testing.T, fsys fstest.MapFS) *migrations.Runner {
	t.Helper()
	r, err := migrations.NewRunner(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestShippedMigrationsLoad(t *testing.T) {
	ms, err := migrations.Load(migrations.Files())
	if err != nil || len(ms) == 0 || ms[0].Name != "0001_ledger_events.sql" {
		t.Fatalf("Load = %v, %v", ms, err)
	}
}

func TestLoadRefusesBadNames(t *testing.T) {
	for _, fsys := range []fstest.MapFS{
		files(map[string]string{"1_short.sql": ""}),
		files(map[string]string{"0001_a.sql": "", "0001_b.sql": ""}),
		files(map[string]string{"0001_Upper.sql": ""}),
	} {
		if _, err := migrations.Load(fsys); err == nil {
			t.Errorf("Load(%v) accepted bad names", fsys)
		}
	}
}

func TestPendingAppliedAndEdited(t *testing.T) {
	t.Parallel()
	conn := connect(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	v1 := files(map[string]string{"0001_a.sql": "CREATE TABLE a (id int)"})
	st, err := runner(t, v1).Status(ctx, conn)
	if err != nil || !st.Empty() || len(st.Pending) != 1 {
		t.Fatalf("fresh database: %+v, %v", st, err)
	}
	applied, err := runner(t, v1).Apply(ctx, conn)
	if err != nil || len(applied) != 1 {
		t.Fatalf("apply: %v, %v", applied, err)
	}

	v2 := files(map[string]string{"0001_a.sql": "CREATE TABLE a (id int)", "0002_b.sql": "CREATE TABLE b (id int)"})
	st, err = runner(t, v2).Status(ctx, conn)
	if err != nil || st.Empty() || st.Current() || len(st.Pending) != 1 || st.Pending[0].Name != "0002_b.sql" {
		t.Fatalf("one pending: %+v, %v", st, err)
	}

	edited := files(map[string]string{"0001_a.sql": "CREATE TABLE a (id bigint)"})
	_, err = runner(t, edited).Apply(ctx, conn)
	var ce *migrations.ChecksumError
	if !errors.As(err, &ce) || ce.Name != "0001_a.sql" || !strings.Contains(err.Error(), "0001_a.sql") {
		t.Fatalf("edited file: %v", err)
	}

	// A binary older than the schema must not claim it is current.
	older := files(map[string]string{})
	if _, err := runner(t, older).Status(ctx, conn); err == nil || !strings.Contains(err.Error(), "0001_a.sql") {
		t.Fatalf("unknown applied migration: %v", err)
	}
}

func TestFailedMigrationIsNotRecorded(t *testing.T) {
	t.Parallel()
	conn := connect(t, pgtest.NewDatabase(t))
	ctx := context.Background()
	bad := files(map[string]string{"0001_a.sql": "CREATE TABLE a (id int)", "0002_bad.sql": "CREATE TABLE b (id int); SELECT * FROM nowhere"})
	applied, err := runner(t, bad).Apply(ctx, conn)
	if err == nil || len(applied) != 1 || !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Fatalf("apply = %v, %v", applied, err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('b') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Fatalf("half-applied migration left table b: %v %v", exists, err)
	}
	st, err := runner(t, bad).Status(ctx, conn)
	if err != nil || len(st.Applied) != 1 || len(st.Pending) != 1 {
		t.Fatalf("status after failure: %+v, %v", st, err)
	}
}

// Several ledger processes starting at once apply each file exactly once.
func TestConcurrentRunnersApplyOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	fsys := files(map[string]string{
		"0001_a.sql": "CREATE TABLE a (id int)",
		"0002_b.sql": "CREATE TABLE b (id int); SELECT pg_sleep(0.05)",
		"0003_c.sql": "CREATE TABLE c (id int)",
	})
	const starters = 4
	var wg sync.WaitGroup
	counts := make([]int, starters)
	for i := range starters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied, err := runner(t, fsys).Apply(ctx, connect(t, url))
			if err != nil {
				t.Errorf("starter %d: %v", i, err)
			}
			counts[i] = len(applied)
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != 3 {
		t.Fatalf("applied %v in all, want each of 3 files exactly once", counts)
	}
}
