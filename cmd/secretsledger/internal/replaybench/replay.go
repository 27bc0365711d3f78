package replaybench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/progress"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/migrations"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// Result is what `bench --replay N` measures.
type Result struct {
	Events       int64   `json:"events"`
	AppendSec    float64 `json:"append_s"`
	RebuildSec   float64 `json:"rebuild_s"`
	EventsPerSec float64 `json:"events_per_sec"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	// BlockedMS is how long the rebuild blocked appends: its swap transaction.
	BlockedMS float64 `json:"blocked_ms"`
	// VerifySec is a full `verify` walk of the chain over the same log.
	VerifySec float64 `json:"verify_s"`
	// The audit queries on the synthetic log, slowest of three runs each: the exposure
	// of one bound and rotated secret, the reach of one consumer, and the whole
	// company's state at the head and at the middle of the log.
	AuditExposureMS float64 `json:"audit_exposure_ms"`
	AuditConsumerMS float64 `json:"audit_consumer_ms"`
	AuditStateMS    float64 `json:"audit_state_ms"`
	AuditStateMidMS float64 `json:"audit_state_mid_ms"`
}

// errNoScratch: the database server does not let the owner create a scratch database.
var errNoScratch = errors.New("bench --replay needs a database server where it may create a scratch database")

// Progress starts a progress line; total 0 shows the time elapsed.
type Progress func(label string, total int64) *progress.Line

// Run creates a scratch database next to the one at ownerURL (connecting as its owner),
// appends n synthetic events to it, times a full rebuild of the read models, a verify of
// the chain and the audit queries, and drops the scratch database.
func Run(ctx context.Context, ownerURL string, n int, progress Progress) (Result, error) {
	scratch := "secretsledger_bench_" + strings.ToLower(randomSuffix())
	admin, err := pgx.Connect(ctx, ownerURL) // CREATE DATABASE: the owner
	if err != nil {
		return Result{}, err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
		return Result{}, fmt.Errorf("%w: %v", errNoScratch, err)
	}
	defer func() {
		_, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)")
	}()
	u, err := url.Parse(ownerURL)
	if err != nil {
		return Result{}, err
	}
	u.Path = "/" + scratch
	return replayBench(ctx, u.String(), n, progress)
}

func randomSuffix() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

func replayBench(ctx context.Context, dbURL string, n int, progress Progress) (Result, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return Result{}, err
	}
	runner, err := migrations.NewRunner(migrations.Files())
	if err == nil {
		_, err = runner.Apply(ctx, conn)
	}
	conn.Close(ctx)
	if err != nil {
		return Result{}, err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return Result{}, err
	}
	defer pool.Close()
	// The scratch database is dropped afterwards: a key of its own authenticates its
	// synthetic events, and the instance's key is neither needed nor touched.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Result{}, err
	}
	key, err := integrity.FromSecret(secret)
	if err != nil {
		return Result{}, err
	}
	store := eventstore.New(pool, eventstore.Config{Authenticator: key})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = store.Run(sctx); close(done) }()
	start := time.Now()
	p := progress("appending synthetic events", int64(n))
	err = generate(ctx, store, n, p)
	p.Done()
	stop()
	<-done
	if err != nil {
		return Result{}, err
	}
	appendTime := time.Since(start)

	resetPeakRSS()
	start = time.Now()
	p = progress(fmt.Sprintf("rebuilding the read models from %d events", n), 0)
	rebuilt, err := projections.Rebuilder{Pool: pool, Projections: projections.All()}.Run(ctx)
	p.Done()
	applied := rebuilt.Events
	if err != nil {
		return Result{}, err
	}
	took := time.Since(start)
	rss := peakRSSMB()
	start = time.Now()
	rep, err := store.Verify(ctx)
	if err != nil {
		return Result{}, err
	}
	if !rep.OK() || rep.Checked != applied {
		return Result{}, fmt.Errorf("verify of the synthetic log: %d of %d events, broken at %d: %s", rep.Checked, applied, rep.BrokenAt, rep.Reason)
	}
	res := Result{Events: applied, AppendSec: appendTime.Seconds(), RebuildSec: took.Seconds(),
		EventsPerSec: float64(applied) / took.Seconds(), PeakRSSMB: rss, VerifySec: time.Since(start).Seconds(),
		BlockedMS: float64(rebuilt.Blocked.Microseconds()) / 1000}
	return res, timeAuditQueries(ctx, pool, applied, &res)
}

// timeAuditQueries runs the audit queries on the synthetic log (see generate for its ids):
// bench-secret-000016 is bound to agent-0005 with "latest", read by it and rotated the
// most (four batches of 500 rotations in 1,000,000 events).
func timeAuditQueries(ctx context.Context, pool *pgxpool.Pool, events int64, res *Result) error {
	log := audit.Log{DB: pool}
	board := actor.Actor{Type: actor.Board, ID: "bench"}
	slowest := func(dst *float64, q func() error) error {
		for range 3 {
			start := time.Now()
			if err := q(); err != nil {
				return err
			}
			*dst = max(*dst, float64(time.Since(start).Microseconds())/1000)
		}
		return nil
	}
	if err := slowest(&res.AuditExposureMS, func() error {
		_, err := log.SecretExposure(ctx, board, "bench-secret-000016", audit.Window{})
		return err
	}); err != nil {
		return err
	}
	if err := slowest(&res.AuditConsumerMS, func() error {
		_, err := log.ConsumerReach(ctx, board, benchCompany, "agent", "agent-0005", audit.Window{})
		return err
	}); err != nil {
		return err
	}
	if err := slowest(&res.AuditStateMS, func() error {
		_, err := log.State(ctx, board, benchCompany, audit.AsOf{Position: events})
		return err
	}); err != nil {
		return err
	}
	return slowest(&res.AuditStateMidMS, func() error {
		_, err := log.State(ctx, board, benchCompany, audit.AsOf{Position: max(events/2, 1)})
		return err
	})
}

// resetPeakRSS starts a new peak: the rebuild is measured, not the generation before it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB is VmHWM of this process in MB.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
