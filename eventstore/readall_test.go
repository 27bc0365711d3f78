package eventstore_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// ReadRange reads exactly what ReadAll reads, whatever the metadata holds (escapes,
// every field, none), page by page within its bounds, and reuses the slice it is given.
func TestReadRangeReadsWhatReadAllReads(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	s := startStore(t, pool, eventstore.Config{})
	ctx := context.Background()
	metas := []eventstore.Metadata{
		{ActorType: "board", ActorID: "b1"},
		{},
		{ActorType: "agent", ActorID: `quote " and \ backslash`, RequestID: "r", CorrelationID: "c", CausationID: "z", IdempotencyKey: "k"},
		{ActorType: "board", ActorID: "日本", RequestID: "tab\there"},
	}
	for i := range 40 {
		e := ev("thing.happened", fmt.Sprintf("co-%d", i%3), map[string]any{"n": i, "s": "x\"y"})
		e.Metadata = metas[i%len(metas)]
		if e.Metadata.IdempotencyKey != "" {
			e.Metadata.IdempotencyKey = fmt.Sprintf("key-%d", i)
		}
		if _, err := s.Append(ctx, fmt.Sprintf("stream-%d", i%5), eventstore.AnyVersion, e); err != nil {
			t.Fatal(err)
		}
	}
	sealed(t, s)
	want, err := eventstore.ReadAll(ctx, pool, 0, 1000)
	if err != nil || len(want) != 40 {
		t.Fatalf("ReadAll: %d events, %v", len(want), err)
	}
	var got, page []eventstore.Event
	for after := int64(3); ; {
		if page, err = eventstore.ReadRange(ctx, pool, after, 37, 7, page); err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Position
	}
	if len(got) != 34 {
		t.Fatalf("ReadRange (3, 37] gave %d events", len(got))
	}
	for i, e := range got {
		w := want[i+3]
		if !e.RecordedAt.Equal(w.RecordedAt) {
			t.Errorf("position %d: recorded_at %v, ReadAll %v", w.Position, e.RecordedAt, w.RecordedAt)
		}
		e.RecordedAt = w.RecordedAt
		if string(e.Payload) != string(w.Payload) {
			t.Errorf("position %d: payload %s, ReadAll %s", w.Position, e.Payload, w.Payload)
		}
		e.Payload = w.Payload
		if !reflect.DeepEqual(e, w) {
			t.Errorf("position %d:\n ReadRange %+v\n ReadAll   %+v", w.Position, e, w)
		}
	}
	if _, err := eventstore.ReadRange(ctx, pool, 0, 10, eventstore.MaxReadLimit+1, nil); err == nil {
		t.Error("a limit over MaxReadLimit was accepted")
	}
}
