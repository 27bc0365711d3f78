package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

var benchConcurrency = []int{1, 16, 64}

// runConcurrently calls op b.N times in total from callers goroutines and reports
// events/s.
func runConcurrently(b *testing.B, callers int, op func(worker, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > b.N {
					return
				}
				if err := op(w, i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppend measures Append: one event per call, each caller on
// its own stream with optimistic concurrency, as commands do.
func BenchmarkAppend(b *testing.B) {
	for _, callers := range benchConcurrency {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			pool, _ := pgtest.NewMigratedPool(b)
			s := startStore(b, pool, eventstore.Config{})
			ctx := context.Background()
			versions := make([]int64, callers)
			payload := map[string]string{"name": "bench", "description": "a typical small payload of a secret event"}
			runConcurrently(b, callers, func(w, _ int) error {
				res, err := s.Append(ctx, fmt.Sprintf("bench-%d", w), versions[w], ev("secret.version_added", "co", payload))
				versions[w] = res.StreamVersion
				return err
			})
		})
	}
}

// BenchmarkRawInsert is the yardstick: one autocommitted single-row INSERT per call into
// a table shaped like ledger_events, no lock, no hash chain, no batching.
func BenchmarkRawInsert(b *testing.B) {
	for _, callers := range benchConcurrency {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(b))
			if err != nil {
				b.Fatal(err)
			}
			cfg.MaxConns = int32(callers) // one connection per caller: the best a plain INSERT loop can do.
			ctx := context.Background()
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			if _, err := pool.Exec(ctx, `CREATE TABLE raw_events (
				position bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, stream_id text NOT NULL,
				stream_version bigint NOT NULL, event_type text NOT NULL, company_id text NOT NULL,
				payload jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
				UNIQUE (stream_id, stream_version))`); err != nil {
				b.Fatal(err)
			}
			payload := `{"name": "bench", "description": "a typical small payload of a secret event"}`
			versions := make([]int64, callers)
			runConcurrently(b, callers, func(w, i int) error {
				versions[w]++
				_, err := pool.Exec(ctx, `INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, company_id, payload)
					VALUES ($1, $2, $3, 'secret.version_added', 'co', $4)`,
					fmt.Sprintf("id-%d", i), fmt.Sprintf("bench-%d", w), versions[w], payload)
				return err
			})
		})
	}
}
