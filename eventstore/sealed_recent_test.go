package eventstore_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// What the sealer's process reads of the sealed log from memory is exactly what a
// process reading it from the database gets: same events, content as PostgreSQL
// normalizes it, metadata, hashes; and the signer's check of a range it sealed ends at
// the same head.
func TestRecentlySealedEventsReadAsTheDatabaseHoldsThem(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	sealer := startStore(t, pool, eventstore.Config{})
	reader := eventstore.New(pool, eventstore.Config{Authenticator: pgtest.IntegrityKey}) // no sealer: reads the database
	ctx := context.Background()
	for i := range 40 {
		e := ev("test.written", "co", map[string]any{"i": i, "b": "x", "a": []int{3, 1}, "nested": map[string]int{"z": 1, "y": 2}})
		e.Metadata = eventstore.Metadata{ActorType: "board", ActorID: fmt.Sprintf("actor-%d", i), RequestID: "req"}
		if _, err := sealer.Append(ctx, fmt.Sprintf("s-%d", i%3), eventstore.AnyVersion, e); err != nil {
			t.Fatal(err)
		}
	}
	sealed(t, sealer)
	fromMemory, err := sealer.ReadAuthentic(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	fromDB, err := reader.ReadAuthentic(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromDB) != 40 || !reflect.DeepEqual(fromMemory, fromDB) {
		t.Fatalf("from memory %d events, from the database %d; first differing:\n%s", len(fromMemory), len(fromDB), firstDiff(fromMemory, fromDB))
	}
	mid := fromDB[10].Position
	memPage, _ := sealer.ReadAuthentic(ctx, mid, 5)
	dbPage, _ := reader.ReadAuthentic(ctx, mid, 5)
	if len(memPage) != 5 || !reflect.DeepEqual(memPage, dbPage) {
		t.Fatalf("a page after %d differs: %d vs %d events", mid, len(memPage), len(dbPage))
	}
	last := fromDB[len(fromDB)-1]
	a1, err1 := sealer.Authenticated(ctx, mid, last.Position)
	a2, err2 := reader.Authenticated(ctx, mid, last.Position)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(a1, a2) || a1.Last.Position != last.Position {
		t.Fatalf("Authenticated: %+v %v vs %+v %v", a1, err1, a2, err2)
	}
}

func firstDiff(a, b []eventstore.Event) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("%+v\n%+v", a[i], b[i])
		}
	}
	return "(lengths)"
}
