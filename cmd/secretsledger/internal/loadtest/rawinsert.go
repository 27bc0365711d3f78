package loadtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// RawInsert is the yardstick scenario: N clients, each on its own connection, each
// running autocommitted single-row INSERTs into a table shaped like ledger_events, on
// the ledger's own database. No lock, no hash chain, no batching, no HTTP.
const RawInsert = "raw-insert"

// RunRawInsert runs the yardstick against dbURL.
func RunRawInsert(ctx context.Context, dbURL string, o Options) (Result, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return Result{}, err
	}
	cfg.MaxConns = int32(o.Concurrency)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer pool.Close()
	table := "bench_raw_events_" + randomHex(4)
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (
		position bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, stream_id text NOT NULL,
		stream_version bigint NOT NULL, event_type text NOT NULL, company_id text NOT NULL,
		payload jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
		UNIQUE (stream_id, stream_version))`); err != nil {
		return Result{}, fmt.Errorf("loadtest: create %s: %w", table, err)
	}
	defer func() { _, _ = pool.Exec(context.WithoutCancel(ctx), `DROP TABLE `+table) }()
	r := &run{o: o}
	var ops atomic.Int64
	var measuring atomic.Bool
	runCtx, cancel := context.WithTimeout(ctx, o.Warmup+o.Duration)
	defer cancel()
	time.AfterFunc(o.Warmup, func() { measuring.Store(true) })
	var start time.Time
	var once sync.Once
	var wg sync.WaitGroup
	payload := `{"secretId": "01M8", "version": 2, "providerVersionRef": "lev_01M8", "fingerprint": "abcdef"}`
	for w := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; runCtx.Err() == nil; n++ {
				began := time.Now()
				_, err := pool.Exec(runCtx, `INSERT INTO `+table+` (event_id, stream_id, stream_version, event_type, company_id, payload)
					VALUES ($1, $2, $3, 'secret.version_added', 'co', $4)`, randomHex(13), fmt.Sprintf("w%d", w), n, payload)
				if runCtx.Err() != nil || !measuring.Load() {
					continue
				}
				once.Do(func() { start = began })
				ops.Add(1)
				if err != nil {
					r.fail(err)
					continue
				}
				r.latency.add(time.Since(began))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	q := r.latency.quantiles()
	res := Result{Scenario: RawInsert, Concurrency: o.Concurrency, DurationSec: elapsed.Seconds(), Ops: int(ops.Load()),
		OpsPerSec: float64(ops.Load()) / elapsed.Seconds(), P50: q.P50, P90: q.P90, P99: q.P99, Max: q.Max, Errors: r.errs.Load()}
	if s, ok := r.firstErr.Load().(string); ok {
		res.FirstError = s
	}
	return res, nil
}
