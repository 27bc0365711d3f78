package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// Two stores on two separate pools stand for two ledger processes. Eight writers append
// 10,000 events while a reader tails "after position"; the reader must see every
// committed event exactly once, in strictly increasing, gap-free position order.
func TestConcurrentAppendsAreReadGapFree(t *testing.T) {
	t.Parallel()
	pool1, url := pgtest.NewMigratedPool(t)
	pool2 := pgtest.NewPool(t, url)
	stores := []*eventstore.Store{
		startStore(t, pool1, eventstore.Config{}),
		startStore(t, pool2, eventstore.Config{}),
	}
	const writers, perWriter = 8, 1250
	const total = writers * perWriter
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	written := make(chan ulid.ULID, total)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			versions := map[string]int64{}
			for i := range perWriter {
				stream := fmt.Sprintf("w%d-s%d", w, i%10)
				res, err := s.Append(ctx, stream, versions[stream], ev("test.appended", "co", map[string]int{"w": w, "i": i}))
				if err != nil {
					t.Errorf("writer %d append %d: %v", w, i, err)
					return
				}
				versions[stream] = res.StreamVersion
				written <- res.EventIDs[0]
			}
		}()
	}

	seen := map[ulid.ULID]int64{}
	var cursor int64
	reader := stores[0]
	for len(seen) < total && ctx.Err() == nil {
		batch, err := reader.ReadAll(ctx, cursor, 500)
		if err != nil {
			t.Fatalf("tail: %v", err)
		}
		for _, e := range batch {
			if e.Position != cursor+1 {
				t.Fatalf("reader saw position %d after %d", e.Position, cursor)
			}
			if at, dup := seen[e.EventID]; dup {
				t.Fatalf("event %s seen twice (positions %d and %d)", e.EventID, at, e.Position)
			}
			seen[e.EventID] = e.Position
			cursor = e.Position
		}
		if len(batch) == 0 {
			time.Sleep(time.Millisecond) // tailing a log: wait for more to commit.
		}
	}
	wg.Wait()
	close(written)
	if t.Failed() {
		return
	}
	n := 0
	for id := range written {
		n++
		if _, ok := seen[id]; !ok {
			t.Errorf("committed event %s never reached the reader", id)
		}
	}
	if n != total || len(seen) != total {
		t.Fatalf("written %d, seen %d, want %d", n, len(seen), total)
	}
	rep, err := reader.Verify(ctx)
	if err != nil || !rep.OK() || rep.Checked != total {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}
