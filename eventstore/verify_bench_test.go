package eventstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// BenchmarkVerify times Verify over a log of LEDGER_BENCH_VERIFY_EVENTS rows (default
// 100,000) written with COPY and correct hashes and MACs, shaped like access records.
func BenchmarkVerify(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("LEDGER_BENCH_VERIFY_EVENTS")); err == nil && v > 0 {
		n = v
	}
	pool, url := pgtest.NewMigratedPool(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		b.Fatal(err)
	}
	payload := `{"runId": "run", "outcome": "resolved", "version": 1, "secretId": "bench-secret-000001", "targetId": "agent-0001", "configPath": "env.K1", "targetType": "agent"}`
	metadata := `{"actorId": "bench", "actorType": "board"}`
	prev := genesisHash
	start := time.Now().UTC().Truncate(time.Microsecond)
	rows := make([][]any, 0, n)
	for i := 1; i <= n; i++ {
		f := chainFields{position: int64(i), eventID: fmt.Sprintf("evt_%020d", i), streamID: "access-co-agent-0001",
			streamVersion: int64(i), eventType: "secret.accessed", schemaVersion: 1, companyID: "co",
			payload: []byte(payload), metadata: []byte(metadata), recordedAt: start.Add(time.Duration(i) * time.Microsecond)}
		h := chainHash(prev, f)
		rows = append(rows, []any{f.position, f.eventID, f.streamID, f.streamVersion, f.eventType, f.schemaVersion,
			f.companyID, payload, metadata, f.recordedAt, prev, h, pgtest.IntegrityKey.EventMAC(h)})
		prev = h
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"ledger_events"}, []string{"position", "event_id", "stream_id",
		"stream_version", "event_type", "schema_version", "company_id", "payload", "metadata", "recorded_at", "prev_hash", "hash", "mac"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE ledger_events`); err != nil {
		b.Fatal(err)
	}
	s := New(pool, Config{Authenticator: pgtest.IntegrityKey})
	b.ResetTimer()
	for b.Loop() {
		rep, err := s.Verify(ctx)
		if err != nil || !rep.OK() || rep.Checked != int64(n) {
			b.Fatalf("Verify = %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "events/s")
}
