package queries

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// skipIndex is a merged statement's row without the member index it starts with, as the
// event store hands it to the member.
type skipIndex struct{ rows pgx.Rows }

func (r skipIndex) Scan(dest ...any) error { return r.rows.Scan(append([]any{nil}, dest...)...) }

// The read-backs of several appends merged into one statement give each member the row
// its own statement gives (the same secret, also when two members ask for one), and a
// member whose secret has no row gets none, as its own statement answers no row.
func TestMergedReadbacksAnswerAsTheirOwnStatements(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO company_secrets (id, company_id, key, name, description, provider, status,
			managed_mode, external_ref, latest_version, created_by, created_at, updated_at, deleted_at, position)
		VALUES ('s1', 'co', 'one', 'One', 'first', 'local_encrypted', 'active', 'paperclip_managed', NULL, 3, 'u',
			now() - interval '1 day', now(), NULL, 7),
			('s2', 'co', 'two', 'Two', '', 'local_encrypted', 'deleted', 'paperclip_managed', 'ext', 1, 'u', now(), now(), now(), 9)`); err != nil {
		t.Fatal(err)
	}
	ids := []string{"s1", "missing", "s2", "s1"}
	type answer struct {
		secret Secret
		err    error
	}
	own, merged := make([]answer, len(ids)), make([]answer, len(ids))
	members := make([]any, len(ids))
	for i, id := range ids {
		st := Secrets{DB: pool}.Readback(id, func(s Secret) { own[i].secret = s })
		own[i].err = st.Row(pool.QueryRow(ctx, st.SQL, st.Args...))
		members[i] = st.Batch
	}
	sql, args := members[0].(secretReadback).Merge(members)
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	answered := make([]bool, len(ids))
	for rows.Next() {
		var i int
		dest := make([]any, len(rows.FieldDescriptions()))
		dest[0] = &i
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		st := Secrets{DB: pool}.Readback(ids[i], func(s Secret) { merged[i].secret = s })
		merged[i].err, answered[i] = st.Row(skipIndex{rows}), true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if !answered[i] {
			merged[i].err = pgx.ErrNoRows
		}
		if !reflect.DeepEqual(merged[i], own[i]) {
			t.Errorf("member %d (%s): merged %+v, own statement %+v", i, ids[i], merged[i], own[i])
		}
	}
	if !errors.Is(own[1].err, pgx.ErrNoRows) || own[0].secret.Description != "first" || own[2].secret.DeletedAt == nil {
		t.Fatalf("the fixture is not what the test expects: %+v", own)
	}
}
