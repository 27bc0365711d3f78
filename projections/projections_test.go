package projections_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/projections"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func event(pos int64, typ string, payload any) eventstore.Event {
	b, _ := json.Marshal(payload)
	return eventstore.Event{Position: pos, EventID: ulid.Make(), Type: typ, SchemaVersion: 1, CompanyID: "co",
		Payload: b, Metadata: eventstore.Metadata{ActorType: "board", ActorID: "t"}, RecordedAt: time.Unix(pos, 0).UTC()}
}

// Runs of rotations and accesses are written in bulk; the result must be what one
// statement per event would give, however events are split into batches.
func TestBulkRunsMatchEventByEvent(t *testing.T) {
	t.Parallel()
	evs := []eventstore.Event{
		event(1, events.SecretCreated, events.SecretCreatedV1{SecretID: "a", Name: "A", Key: "a", Provider: "local_encrypted", ManagedMode: "paperclip_managed"}),
		event(2, events.SecretCreated, events.SecretCreatedV1{SecretID: "b", Name: "B", Key: "b", Provider: "local_encrypted", ManagedMode: "paperclip_managed"}),
		event(3, events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: "a", Version: 2}),
		event(4, events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: "b", Version: 2}),
		event(5, events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: "a", Version: 3}),
		event(6, events.SecretAccessed, events.SecretAccessedV1{SecretID: "a", Version: 3, TargetType: "agent", TargetID: "x", ConfigPath: "env.A", Outcome: "resolved"}),
		event(7, events.SecretDeleted, events.SecretDeletedV1{SecretID: "b"}),
		event(8, events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: "a", Version: 4}),
		event(9, events.SecretAccessed, events.SecretAccessedV1{SecretID: "b", TargetType: "agent", TargetID: "x", ConfigPath: "env.B", Outcome: "secret_deleted"}),
		event(10, events.SecretCreated, events.SecretCreatedV1{SecretID: "c", Name: "B", Key: "b", Provider: "local_encrypted", ManagedMode: "paperclip_managed"}),
	}
	const snapshot = `SELECT (SELECT string_agg(id || ':' || status || ':' || latest_version || ':' || coalesce(last_resolved_at::text, '-'), ',' ORDER BY id) FROM company_secrets)
		|| ' ' || (SELECT string_agg(secret_id || version || status, ',' ORDER BY secret_id, version) FROM company_secret_versions)
		|| ' ' || (SELECT string_agg(v.secret_id || v.version, ',' ORDER BY v.secret_id) FROM company_secret_versions v
			JOIN company_secrets s ON s.id = v.secret_id AND s.latest_version = v.version)
		|| ' ' || (SELECT string_agg(secret_id || ':' || outcome || ':' || coalesce(error_code, '-'), ',' ORDER BY position) FROM secret_access_events)`
	want := "a:active:4:1970-01-01 00:00:06+00,b:deleted:2:-,c:active:1:- a1current,a2current,a3current,a4current,b1current,b2current,c1current a4,b2,c1 a:resolved:-,b:failed:secret_deleted"
	for _, split := range [][]int{{10}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 4, 3}, {5, 5}} {
		pool, _ := pgtest.NewMigratedPool(t)
		ctx := context.Background()
		if _, err := pool.Exec(ctx, `SET TIME ZONE 'UTC'`); err != nil {
			t.Fatal(err)
		}
		at := 0
		for _, n := range split {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := projections.Inline(projections.All()).Project(ctx, tx, evs[at:at+n]); err != nil {
				t.Fatalf("split %v: %v", split, err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			at += n
		}
		var got string
		conn, _ := pool.Acquire(ctx)
		_, _ = conn.Exec(ctx, `SET TIME ZONE 'UTC'`)
		if err := conn.QueryRow(ctx, snapshot).Scan(&got); err != nil {
			t.Fatal(err)
		}
		conn.Release()
		if got != want {
			t.Errorf("split %v:\n got %s\nwant %s", split, got, want)
		}
	}
}
