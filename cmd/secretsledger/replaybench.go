package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/progress"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/migrations"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// replayResult is what `bench --replay N` measures.
type replayResult struct {
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

func runReplayBench(ctx context.Context, env *environment, n int, asJSON bool) error {
	return withLedger(ctx, env, func(l *app.App) error {
		scratch := "secretsledger_bench_" + strings.ToLower(randomSuffix())
		admin, err := pgx.Connect(ctx, l.DB.MigrationURL) // CREATE DATABASE: the owner
		if err != nil {
			return err
		}
		defer admin.Close(context.WithoutCancel(ctx))
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
			return fmt.Errorf("%w: %v", errNoScratch, err)
		}
		defer func() {
			_, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)")
		}()
		u, err := url.Parse(l.DB.MigrationURL)
		if err != nil {
			return err
		}
		u.Path = "/" + scratch
		res, err := replayBench(ctx, env, u.String(), n)
		if err != nil {
			return err
		}
		if asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintln(env.stdout, string(b))
			return nil
		}
		fmt.Fprintf(env.stdout, "appended %d synthetic events in %.1fs; rebuilt every read model in %.1fs (%.0f events/s), appends blocked %.0f ms; peak RSS during the rebuild %.0f MB; verified the hash chain in %.2fs\n",
			res.Events, res.AppendSec, res.RebuildSec, res.EventsPerSec, res.BlockedMS, res.PeakRSSMB, res.VerifySec)
		fmt.Fprintf(env.stdout, "audit queries on that log (slowest of 3): exposure of one secret %.0f ms, one consumer's reach %.0f ms, "+
			"the company's state at the head %.0f ms and at the middle %.0f ms\n",
			res.AuditExposureMS, res.AuditConsumerMS, res.AuditStateMS, res.AuditStateMidMS)
		return nil
	})
}

func randomSuffix() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

func replayBench(ctx context.Context, env *environment, dbURL string, n int) (replayResult, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return replayResult{}, err
	}
	runner, err := migrations.NewRunner(migrations.Files())
	if err == nil {
		_, err = runner.Apply(ctx, conn)
	}
	conn.Close(ctx)
	if err != nil {
		return replayResult{}, err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return replayResult{}, err
	}
	defer pool.Close()
	// The scratch database is dropped afterwards: a key of its own authenticates its
	// synthetic events, and the instance's key is neither needed nor touched.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return replayResult{}, err
	}
	key, err := integrity.FromSecret(secret)
	if err != nil {
		return replayResult{}, err
	}
	store := eventstore.New(pool, eventstore.Config{Authenticator: key})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = store.Run(sctx); close(done) }()
	start := time.Now()
	p := env.progress("appending synthetic events", int64(n))
	err = generate(ctx, store, n, p)
	p.Done()
	stop()
	<-done
	if err != nil {
		return replayResult{}, err
	}
	appendTime := time.Since(start)

	resetPeakRSS()
	start = time.Now()
	p = env.progress(fmt.Sprintf("rebuilding the read models from %d events", n), 0)
	rebuilt, err := projections.Rebuilder{Pool: pool, Projections: projections.All()}.Run(ctx)
	p.Done()
	applied := rebuilt.Events
	if err != nil {
		return replayResult{}, err
	}
	took := time.Since(start)
	rss := peakRSSMB()
	start = time.Now()
	rep, err := store.Verify(ctx)
	if err != nil {
		return replayResult{}, err
	}
	if !rep.OK() || rep.Checked != applied {
		return replayResult{}, fmt.Errorf("verify of the synthetic log: %d of %d events, broken at %d: %s", rep.Checked, applied, rep.BrokenAt, rep.Reason)
	}
	res := replayResult{Events: applied, AppendSec: appendTime.Seconds(), RebuildSec: took.Seconds(),
		EventsPerSec: float64(applied) / took.Seconds(), PeakRSSMB: rss, VerifySec: time.Since(start).Seconds(),
		BlockedMS: float64(rebuilt.Blocked.Microseconds()) / 1000}
	return res, timeAuditQueries(ctx, pool, applied, &res)
}

// timeAuditQueries runs the audit queries on the synthetic log (see generate for its ids):
// bench-secret-000016 is bound to agent-0005 with "latest", read by it and rotated the
// most (four batches of 500 rotations in 1,000,000 events).
func timeAuditQueries(ctx context.Context, pool *pgxpool.Pool, events int64, res *replayResult) error {
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

// benchCompany is the company of every synthetic event.
const benchCompany = "00000000-0000-4000-8000-00000000bench"

// generate appends n events (counted on p) in a realistic mix, in batches: per consumer, 3 bindings
// and an agent key; then 80 % access records, 15 % rotations, 5 % new secrets.
func generate(ctx context.Context, store *eventstore.Store, n int, p *progress.Line) error {
	g := &synthetic{ctx: ctx, store: store, p: p, versions: map[string]int{}}
	if err := g.setup(); err != nil {
		return err
	}
	return g.bulk(n)
}

// Shape of the synthetic log.
const (
	benchConsumers = 200
	benchPerBatch  = 500
)

// synthetic is the writer of the synthetic log: every event of benchCompany.
type synthetic struct {
	ctx   context.Context
	store *eventstore.Store
	p     *progress.Line
	mu    sync.Mutex
	// written counts the events appended so far.
	written int
	// secretIDs are the secrets bound and rotated; versions their latest versions.
	secretIDs []string
	versions  map[string]int
	// created counts the secrets created by the bulk.
	created int
}

func (g *synthetic) event(typ string, payload any) eventstore.EventData {
	e, _ := events.New(typ, benchCompany, payload, eventstore.Metadata{ActorType: "board", ActorID: "bench"})
	return e
}

func (g *synthetic) append(stream string, expected int64, evs []eventstore.EventData) error {
	if _, err := g.store.Append(g.ctx, stream, expected, evs...); err != nil {
		return err
	}
	g.mu.Lock()
	g.written += len(evs)
	g.mu.Unlock()
	g.p.Add(int64(len(evs)))
	return nil
}

// setup appends the secrets to bind and rotate, and per consumer its bindings and an
// agent key.
func (g *synthetic) setup() error {
	for i := range benchConsumers * 3 {
		id := fmt.Sprintf("bench-secret-%06d", i)
		g.secretIDs = append(g.secretIDs, id)
		g.versions[id] = 1
		if err := g.append(events.SecretStream(id), eventstore.NoStream, []eventstore.EventData{g.event(events.SecretCreated, events.SecretCreatedV1{
			SecretID: id, Name: id, Key: id, Provider: "local_encrypted", ManagedMode: "paperclip_managed",
			ProviderVersionRef: "lev_" + id, Fingerprint: strings.Repeat("ab", 32)})}); err != nil {
			return err
		}
	}
	for c := range benchConsumers {
		target := fmt.Sprintf("agent-%04d", c)
		var evs []eventstore.EventData
		for j := range 3 {
			evs = append(evs, g.event(events.BindingCreated, events.BindingCreatedV1{BindingID: fmt.Sprintf("b-%d-%d", c, j),
				SecretID: g.secretIDs[c*3+j], TargetType: "agent", TargetID: target, ConfigPath: fmt.Sprintf("env.K%d", j),
				VersionSelector: "latest", Required: true}))
		}
		if err := g.append(events.ConsumerStream(benchCompany, "agent", target), eventstore.NoStream, evs); err != nil {
			return err
		}
		if err := g.append(events.AgentKeyStream(target), eventstore.NoStream, []eventstore.EventData{g.event(events.AgentKeyIssued,
			events.AgentKeyIssuedV2{KeyID: target, TargetType: "agent", TargetID: target, TokenKeyedHash: fmt.Sprintf("%064x", c)})}); err != nil {
			return err
		}
	}
	return nil
}

// bulk appends the rest of the n events from 16 writers, so that group commit batches
// them.
func (g *synthetic) bulk(n int) error {
	work := make(chan func() error)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := f(); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	planned := g.written // setup events, all written by now
	for batch := 0; planned < n && len(errs) == 0; batch++ {
		size := min(benchPerBatch, n-planned)
		planned += size
		for _, f := range g.batch(batch, size) {
			work <- f
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// batch is the appends of batch number batch, of size events: access records of one
// consumer (16 batches in 20), rotations of one secret (3 in 20), or new secrets, one
// stream (and one append) each.
func (g *synthetic) batch(batch, size int) []func() error {
	switch r := batch % 20; {
	case r < 16:
		target := fmt.Sprintf("agent-%04d", batch%benchConsumers)
		evs := make([]eventstore.EventData, size)
		for i := range evs {
			evs[i] = g.event(events.SecretAccessed, events.SecretAccessedV1{SecretID: g.secretIDs[(batch%benchConsumers)*3+i%3], Version: 1,
				TargetType: "agent", TargetID: target, ConfigPath: fmt.Sprintf("env.K%d", i%3), RunID: "run", Outcome: "resolved"})
		}
		return []func() error{func() error {
			return g.append(events.AccessStream(benchCompany, "agent", target), eventstore.AnyVersion, evs)
		}}
	case r < 19:
		id := g.secretIDs[batch%len(g.secretIDs)]
		evs := make([]eventstore.EventData, size)
		for i := range evs {
			g.versions[id]++
			evs[i] = g.event(events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: id, Version: g.versions[id],
				ProviderVersionRef: fmt.Sprintf("lev_%s_%d", id, g.versions[id]), Fingerprint: strings.Repeat("cd", 32)})
		}
		return []func() error{func() error { return g.append(events.SecretStream(id), eventstore.AnyVersion, evs) }}
	}
	fs := make([]func() error, 0, size)
	for range size {
		g.created++
		id := fmt.Sprintf("bench-new-%08d", g.created)
		e := g.event(events.SecretCreated, events.SecretCreatedV1{SecretID: id, Name: id, Key: id,
			Provider: "local_encrypted", ManagedMode: "paperclip_managed", ProviderVersionRef: "lev_" + id})
		fs = append(fs, func() error { return g.append(events.SecretStream(id), eventstore.NoStream, []eventstore.EventData{e}) })
	}
	return fs
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
