package loadtest

import (
	"context"
	"fmt"
	mrand "math/rand/v2"

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
	o.Scenario = RawInsert
	r := &run{o: o}
	payload := `{"secretId": "01M8", "version": 2, "providerVersionRef": "lev_01M8", "fingerprint": "abcdef"}`
	next := make([]int, o.Concurrency) // each worker's stream version
	elapsed, ops := r.drive(ctx, func(ctx context.Context, w int, _ *mrand.Rand, _ bool) error {
		next[w]++
		_, err := pool.Exec(ctx, `INSERT INTO `+table+` (event_id, stream_id, stream_version, event_type, company_id, payload)
			VALUES ($1, $2, $3, 'secret.version_added', 'co', $4)`, randomHex(13), fmt.Sprintf("w%d", w), next[w], payload)
		return err
	})
	return r.result(elapsed, ops), nil
}
