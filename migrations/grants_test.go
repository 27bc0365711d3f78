package migrations_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/migrations"
	"github.com/secretsledger/secretsledger/projections"
)

var allTablePrivileges = []string{"DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"}

// heldPrivileges returns, per table and view of the schema (the relations GrantRuntime
// grants on, sequences apart), the privileges role holds, sorted.
func heldPrivileges(t *testing.T, url, role string) map[string][]string {
	t.Helper()
	conn := connect(t, url)
	rows, err := conn.Query(context.Background(), `SELECT c.relname, ARRAY(SELECT p FROM unnest($2::text[]) AS p
			WHERE has_table_privilege($1, c.oid, p) ORDER BY p)
		FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v')`, role, allTablePrivileges)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	held := map[string][]string{}
	for rows.Next() {
		var name string
		var privs []string
		if err := rows.Scan(&name, &privs); err != nil {
			t.Fatal(err)
		}
		held[name] = privs
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return held
}

func checkExactGrants(t *testing.T, url string) {
	t.Helper()
	held := heldPrivileges(t, url, pgembed.RuntimeUser)
	conn := connect(t, url)
	for table, privs := range held {
		var want []string
		for _, p := range migrations.PrivilegesFor(table) {
			priv, columns, ok := strings.Cut(p, " (")
			if !ok {
				want = append(want, p)
				continue
			}
			// A column grant: the table-level privilege is not held, each listed column's is.
			for _, c := range strings.Split(strings.TrimSuffix(columns, ")"), ",") {
				var has bool
				if err := conn.QueryRow(context.Background(), `SELECT has_column_privilege($1, $2, $3, $4)`,
					pgembed.RuntimeUser, table, strings.TrimSpace(c), priv).Scan(&has); err != nil || !has {
					t.Errorf("%s: the runtime role lacks %s on column %s (%v)", table, priv, c, err)
				}
			}
		}
		if !slices.Equal(privs, want) {
			t.Errorf("%s: the runtime role holds %v, want %v", table, privs, want)
		}
	}
	// Re-encryption's marks are the owner's: the runtime role cannot clear them.
	var canClear bool
	if err := conn.QueryRow(context.Background(), `SELECT has_column_privilege($1, 'local_secret_keys', 'reencrypt_pending', 'UPDATE')`,
		pgembed.RuntimeUser).Scan(&canClear); err != nil || canClear {
		t.Errorf("the runtime role may update local_secret_keys.reencrypt_pending (%v)", err)
	}
	if got := held["ledger_events"]; !slices.Equal(got, []string{"INSERT", "SELECT"}) {
		t.Errorf("ledger_events: the runtime role holds %v", got)
	}
	if got, ok := held["ledger_log"]; !ok || !slices.Equal(got, []string{"SELECT"}) {
		t.Errorf("ledger_log (a view): the runtime role holds %v (present %v), want exactly SELECT", got, ok)
	}
}

// The runtime role holds exactly its listed privileges on every shipped table, a grant
// made by hand is taken back, and a table a later migration adds gets the default.
func TestGrantRuntime(t *testing.T) {
	t.Parallel()
	_, owner := pgtest.NewMigratedPool(t)
	pgtest.RuntimeURL(t, owner)
	held := heldPrivileges(t, owner, pgembed.RuntimeUser)
	for table := range migrations.RuntimePrivileges {
		if _, ok := held[table]; !ok {
			t.Errorf("RuntimePrivileges lists %s, which the schema does not have", table)
		}
	}
	checkExactGrants(t, owner)

	ctx := context.Background()
	conn := connect(t, owner)
	for _, stmt := range []string{
		"GRANT ALL ON ledger_events TO " + pgembed.RuntimeUser,
		"GRANT ALL ON ledger_log TO " + pgembed.RuntimeUser,
		"CREATE TABLE later_table (id bigserial PRIMARY KEY, v text NOT NULL)",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	runtime := pgtest.RuntimeURL(t, owner) // grants again, as the ledger does after migrating
	checkExactGrants(t, owner)
	if got := heldPrivileges(t, owner, pgembed.RuntimeUser)["later_table"]; !slices.Equal(got, []string{"DELETE", "INSERT", "SELECT", "UPDATE"}) {
		t.Errorf("a new table: the runtime role holds %v", got)
	}
	// The sequence behind the new table's bigserial is usable too.
	rc := connect(t, runtime)
	if _, err := rc.Exec(ctx, "INSERT INTO later_table (v) VALUES ('x')"); err != nil {
		t.Fatalf("insert into a new table as the runtime role: %v", err)
	}

	// Several processes starting at once grant side by side without tripping over each
	// other (the migrations' advisory lock serializes them).
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, owner)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			errs <- migrations.GrantRuntime(ctx, c, pgembed.RuntimeUser)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent grant: %v", err)
		}
	}
	checkExactGrants(t, owner)
}

func TestGrantRuntimeToAMissingRoleFails(t *testing.T) {
	t.Parallel()
	_, owner := pgtest.NewMigratedPool(t)
	err := migrations.GrantRuntime(context.Background(), connect(t, owner), "no_such_role")
	if err == nil {
		t.Fatal("granting to a role that does not exist succeeded")
	}
}

// A rebuild swaps new read-model tables in for the old ones: the runtime role holds
// exactly what it held on them before, and can still use them.
func TestGrantsSurviveRebuild(t *testing.T) {
	t.Parallel()
	pool, owner := pgtest.NewMigratedPool(t)
	runtime := pgtest.RuntimeURL(t, owner)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO ledger_events (position, event_id, stream_id, stream_version, event_type,
			schema_version, company_id, payload, metadata, recorded_at, prev_hash, hash)
		VALUES (1, '01J00000000000000000000000', 'secret-s1', 1, 'secret.created', 1, 'co',
			'{"secretId": "s1", "name": "N", "key": "k", "provider": "local_encrypted", "managedMode": "paperclip_managed"}',
			'{"actorId": "t", "actorType": "board"}', now(), '\x00', '\x00')`); err != nil {
		t.Fatal(err)
	}
	before := heldPrivileges(t, owner, pgembed.RuntimeUser)
	var tablesBefore []uint32
	if err := pool.QueryRow(ctx, `SELECT array_agg(oid ORDER BY relname) FROM pg_class WHERE relname = ANY($1)`,
		[]string{"company_secrets", "secret_access_events"}).Scan(&tablesBefore); err != nil {
		t.Fatal(err)
	}
	if _, err := projections.Rebuild(ctx, pool, projections.All()); err != nil {
		t.Fatal(err)
	}
	var tablesAfter []uint32
	if err := pool.QueryRow(ctx, `SELECT array_agg(oid ORDER BY relname) FROM pg_class WHERE relname = ANY($1)`,
		[]string{"company_secrets", "secret_access_events"}).Scan(&tablesAfter); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(tablesBefore, tablesAfter) {
		t.Fatal("the rebuild did not swap in new tables; this test proves nothing")
	}
	checkExactGrants(t, owner)
	after := heldPrivileges(t, owner, pgembed.RuntimeUser)
	if len(after) != len(before) {
		t.Fatalf("tables before the rebuild %d, after %d", len(before), len(after))
	}
	for table, privs := range before {
		if !slices.Equal(after[table], privs) {
			t.Errorf("%s: the runtime role held %v before the rebuild and %v after", table, privs, after[table])
		}
	}
	rc := connect(t, runtime)
	var name string
	if err := rc.QueryRow(ctx, `SELECT name FROM company_secrets WHERE id = 's1'`).Scan(&name); err != nil || name != "N" {
		t.Fatalf("the runtime role reads the rebuilt company_secrets: %q %v", name, err)
	}
	if _, err := rc.Exec(ctx, `UPDATE company_secrets SET description = 'd' WHERE id = 's1'`); err != nil {
		t.Fatalf("the runtime role updates the rebuilt company_secrets: %v", err)
	}
	if _, err := rc.Exec(ctx, `DELETE FROM company_secrets`); err == nil {
		t.Fatal("the runtime role may delete from the rebuilt company_secrets")
	}
}
