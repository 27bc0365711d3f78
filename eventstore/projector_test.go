package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// nameProjector keeps a table of names with a unique constraint, like a read model
// whose constraints settle races between appends.
type nameProjector struct{}

func (nameProjector) Queue(b *pgx.Batch, events []eventstore.Event) error {
	for _, e := range events {
		var p struct{ Name string }
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			return err
		}
		b.Queue(`INSERT INTO names (name, position) VALUES ($1, $2)`, p.Name, e.Position)
	}
	return nil
}

func (nameProjector) Translate(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return ledgererr.New(ledgererr.Conflict, "name is taken")
	}
	return err
}

func TestInlineProjectorRunsInTheAppendTransaction(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewMigratedPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE names (name text PRIMARY KEY, position bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	s := startStore(t, pool, eventstore.Config{Projector: nameProjector{}})

	res, err := s.Append(ctx, "a", eventstore.NoStream, ev("x.named", "co", map[string]string{"name": "alpha"}))
	if err != nil {
		t.Fatal(err)
	}
	var pos int64
	if err := pool.QueryRow(ctx, `SELECT position FROM names WHERE name = 'alpha'`).Scan(&pos); err != nil || pos != res.LastPosition {
		t.Fatalf("read model not written with the append: %d, %v", pos, err)
	}

	// Sixteen callers race for one name: exactly one wins, the others get the
	// projector's conflict, and no losing event reaches the log.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, "b"+string(rune('a'+i)), eventstore.NoStream, ev("x.named", "co", map[string]string{"name": "beta"}))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch ledgererr.CodeOf(err) {
		case "":
			won++
		case ledgererr.Conflict:
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	sealed(t, s)
	var events int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_events`).Scan(&events); err != nil || won != 1 || events != 2 {
		t.Fatalf("won %d, %d events sealed (%v); want 1 and 2", won, events, err)
	}
	if rep, err := s.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}
