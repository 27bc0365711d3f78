package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on LEDGER_PPROF_ADDR
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/boardtoken"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/console"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/metrics"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/lease"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/migrations"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/queries"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// shutdownTimeout bounds the graceful stop of HTTP and the database.
const shutdownTimeout = 20 * time.Second

// runServe runs the server until ctx ends.
func runServe(ctx context.Context, env *environment, o serveOptions) error {
	collectGarbageLessOften()
	// Validate, bind, then prepare: a bad configuration or a taken port fails at once,
	// before an instance directory, a database or a token is created for nothing.
	if err := env.cfg.Validate(); err != nil {
		return usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	tlsConfig, err := loadTLS(env.cfg)
	if err != nil {
		return err
	}
	ln, err := listen(env.cfg.HTTPAddr, "LEDGER_HTTP_ADDR")
	if err != nil {
		return err
	}
	defer ln.Close()
	m := metrics.New()
	var metricsLn net.Listener
	if env.cfg.MetricsAddr != "" {
		if metricsLn, err = listen(env.cfg.MetricsAddr, "LEDGER_METRICS_ADDR"); err != nil {
			return err
		}
		defer metricsLn.Close()
	}
	if env.cfg.NATSURL == "" {
		// The embedded NATS server binds later, after the database is up; a taken
		// address is found now. (Another process could still take it in between.)
		probe, err := listen(env.cfg.NATSAddr, "LEDGER_NATS_ADDR")
		if err != nil {
			return err
		}
		probe.Close()
	}
	dir, err := env.prepareDatabase()
	if err != nil {
		return err
	}
	if tlsConfig == nil && !env.cfg.HTTPLoopback() {
		env.log.Warn("LEDGER_HTTP_ADDR is not a loopback address and TLS is off: secret values and tokens travel in clear text; "+
			"set LEDGER_TLS_CERT_FILE and LEDGER_TLS_KEY_FILE, or put a TLS-terminating proxy in front", "addr", env.cfg.HTTPAddr)
	}

	l, closeLedger, err := openLedger(ctx, env, dir, o.migrate, asRuntime, m)
	if err != nil {
		return err
	}
	defer closeLedger()
	if err := catchUpProjections(ctx, env, l); err != nil {
		return err
	}
	// The runtime role may not write board tokens: the first one is made as the owner.
	if err := l.db.AsOwner(ctx, func(conn *pgx.Conn) error {
		return boardtoken.Store{DB: conn, Key: l.integrity}.EnsureInstanceToken(ctx, filepath.Join(l.dir.Path, "board.token"), env.log)
	}); err != nil {
		return err
	}
	b, err := startBus(ctx, env, l)
	if err != nil {
		return err
	}
	defer b.shutdown()
	rs := newRoles(env, l.pool)
	b.relay.Lease = rs.lease(lease.Relay)
	signerLease, sweepLease, backupLease := rs.lease(lease.CheckpointSigner), rs.lease(lease.IdempotencySweep), (*lease.Lease)(nil)
	if env.cfg.BackupInterval > 0 {
		backupLease = rs.lease(lease.Backups)
	}
	var healthLease *lease.Lease
	if env.cfg.VaultHealthInterval > 0 {
		healthLease = rs.lease(lease.VaultHealth)
	}
	m.WatchRelay(b.relay.Status)
	sig, closeSigner, err := startSigner(env, l, b.relay.NATS)
	if err != nil {
		return err
	}
	defer closeSigner()
	m.WatchForged(sig.ForgedAt)
	var apiMetrics http.Handler // /metrics on the API's listener unless it has its own
	if metricsLn == nil {
		apiMetrics = m.Handler()
	}
	srv := &http.Server{
		Handler: httpapi.NewRouter(httpapi.Deps{
			Log:      env.log,
			Checks:   append(readinessChecks(l.pool, l.db), b.check(), integrityCheck(sig)),
			Roles:    rs.held,
			Requests: m, Metrics: apiMetrics,
			API: &httpapi.API{
				Auth: l, RequestHash: l.local.Sealer().RequestHash,
				Secrets:      httpapi.Secrets{Commands: l.commands.Secrets, Queries: l.queries},
				RemoteImport: httpapi.RemoteImport{Commands: l.commands.Importer},
				Providers:    httpapi.Providers{Instances: l.placer.DeploymentProviders()},
				Consumers:    httpapi.Consumers{Commands: l.commands.Consumers, Queries: l.consumers},
				AccessEvents: httpapi.AccessEvents{Queries: l.consumers},
				AgentKeys:    httpapi.AgentKeys{Commands: l.commands.AgentKeys, Queries: l.consumers},
				Resolution:   httpapi.Resolution{Commands: l.commands.Resolver},
				Incidents:    httpapi.Incidents{Commands: l.commands.Incidents, Queries: l.freezes},
				Policies:     policiesAPI(env, l),
				Vaults:       httpapi.Vaults{Commands: l.commands.Vaults, Queries: l.vaultQueries},
				Events:       httpapi.Events{Subscribers: b, Reader: l.events},
				Audit:        httpapi.Audit{Queries: audit.Log{DB: l.pool, RedactionKey: sig.Key}},
				Ledger:       httpapi.Ledger{Companies: queries.Companies{DB: l.pool}, Status: &queries.Ledger{Store: l.store, DB: l.pool}},
			},
			Console: consoleOf(env, l),
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // bodies are at most 1 MiB
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         tlsConfig,
	}
	if addr := env.cfg.PprofAddr; addr != "" {
		// Profiling for `bench` runs: on its own loopback listener (config refuses any
		// other address), never on the API's.
		pprofSrv := &http.Server{Addr: addr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() { env.log.Info("pprof listening", "addr", addr, "err", pprofSrv.ListenAndServe()) }()
		defer pprofSrv.Close()
	}
	if metricsLn != nil {
		metricsSrv := &http.Server{Handler: metricsMux(m), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		go func() { _ = metricsSrv.Serve(metricsLn) }() // ends with Close
		defer metricsSrv.Close()
		env.log.Info("metrics listening", "addr", metricsLn.Addr().String())
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	storeDone := make(chan error, 1)
	go func() { storeDone <- l.store.Run(runCtx) }()
	relayDone := make(chan error, 1)
	go func() { relayDone <- b.relay.Run(runCtx) }()
	// The signer stops after the writer, to sign the head of its last commit.
	signerCtx, stopSigner := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSigner()
	signerDone := make(chan struct{})
	go func() {
		defer close(signerDone)
		signerLease.Run(signerCtx, func(ctx context.Context) {
			if err := sig.Run(ctx); err != nil {
				env.log.Error("checkpoint signer", "err", err)
			}
		})
	}()
	// Background roles run in the one process holding their lease; waiting for them on
	// shutdown lets each release its lease, so another process takes over at once.
	var jobs sync.WaitGroup
	jobs.Add(1)
	go func() {
		defer jobs.Done()
		sweepLease.Run(runCtx, func(ctx context.Context) { sweepIdempotencyKeys(ctx, env, l) })
	}()
	tailFrom, err := l.store.HeadPosition(ctx) // memory is empty now
	if err != nil {
		tailFrom = -1
	}
	go l.commands.Runtime.Tail(runCtx, l.store, tailFrom)
	if err := approveHeldReferences(ctx, env, l); err != nil {
		return err
	}
	if healthLease != nil {
		jobs.Add(1)
		go func() {
			defer jobs.Done()
			healthLease.Run(runCtx, func(ctx context.Context) { checkVaultsHealth(ctx, env, l, env.cfg.VaultHealthInterval) })
		}()
	}
	if backupLease != nil {
		jobs.Add(1)
		go func() {
			defer jobs.Done()
			backupLease.Run(runCtx, func(ctx context.Context) { runScheduledBackups(ctx, env, l.db.MigrationURL) })
		}()
	}
	httpDone := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			httpDone <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		httpDone <- srv.Serve(ln)
	}()
	env.log.Info("secretsledger serving", "addr", ln.Addr().String(), "tls", tlsConfig != nil, "instance", env.cfg.Instance,
		"embedded_database", l.db.Embedded != nil, "version", versionString())

	var runErr error
	select {
	case <-ctx.Done():
		env.log.Info("shutting down")
	case err := <-httpDone:
		runErr = fmt.Errorf("http server: %w", err)
	case <-embeddedExited(l.db):
		runErr = errors.New("the embedded PostgreSQL exited unexpectedly; see db/postgres.log in the instance directory")
	}
	stopCtx, stopCancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer stopCancel()
	if err := srv.Shutdown(stopCtx); err != nil {
		env.log.Warn("http shutdown", "err", err)
	}
	cancel()
	<-storeDone
	<-relayDone
	jobs.Wait()
	stopSigner()
	<-signerDone
	return runErr
}

// consoleOf is the browser console, nil when LEDGER_CONSOLE_SESSION_TTL turns it off.
func consoleOf(env *environment, l *ledger) func(http.Handler) http.Handler {
	if env.cfg.ConsoleSessionTTL == 0 {
		return nil
	}
	return console.New(console.Config{Log: env.log, DB: l.pool, Auth: l, Key: l.integrity, SessionTTL: env.cfg.ConsoleSessionTTL})
}

// listen binds addr (from the variable name) at start; a taken or bad address is a
// configuration error (exit 2).
func listen(addr, name string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, usageError{fmt.Errorf("cannot listen on %s: address already in use (set %s to a free address)", addr, name)}
		}
		return nil, usageError{fmt.Errorf("cannot listen on %s: %w", addr, err)}
	}
	return ln, nil
}

// metricsMux serves GET /metrics, and nothing else, on LEDGER_METRICS_ADDR.
func metricsMux(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// loadTLS loads the API's certificate when TLS is configured (nil otherwise): at start,
// so that a missing or mismatched pair stops the start instead of every handshake.
func loadTLS(cfg config.Config) (*tls.Config, error) {
	if !cfg.TLS() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, usageError{fmt.Errorf("cannot load the TLS certificate and key (LEDGER_TLS_CERT_FILE=%s, LEDGER_TLS_KEY_FILE=%s): %w",
			cfg.TLSCertFile, cfg.TLSKeyFile, err)}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

func embeddedExited(db *database.Database) <-chan struct{} {
	if db.Embedded == nil || !db.Embedded.Owned() {
		return nil // never fires
	}
	return db.Embedded.Exited()
}

// catchUpProjections rebuilds the read models when they are behind the log: projections
// run inside the append transaction, so this only happens after an upgrade that adds
// or changes a projection.
func catchUpProjections(ctx context.Context, env *environment, l *ledger) error {
	head, err := l.store.HeadPosition(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, p := range projections.All() {
		names = append(names, p.Name())
	}
	// The oldest checkpoint; a projection without one (new in this version) counts as 0.
	var checkpoint int64
	err = l.pool.QueryRow(ctx, `SELECT CASE WHEN count(*) = cardinality($1::text[]) THEN min(position) ELSE 0 END
		FROM projection_checkpoints WHERE projection = ANY($1)`, names).Scan(&checkpoint)
	if err != nil || checkpoint >= head {
		return err
	}
	// Rebuilding truncates the read models, which the runtime role may not: it runs as
	// the owner, on a pool of its own that lives as long as the rebuild.
	owner, err := pgxpool.New(ctx, l.db.MigrationURL)
	if err != nil {
		return fmt.Errorf("open an owner's pool to rebuild the read models: %w", err)
	}
	defer owner.Close()
	n, err := projections.Rebuild(ctx, owner, projections.All())
	env.log.Info("rebuilt read models that were behind the log", "events", n, "checkpoint", checkpoint, "head", head)
	return err
}

// ensureMigrated migrates an empty database, and a database with pending migrations
// only when asked: a running fleet's schema changes when an operator says so. Either
// way the runtime role ends up with exactly its privileges.
func ensureMigrated(ctx context.Context, env *environment, db *database.Database, migrate bool) error {
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if st.Current() {
		// Every start: an instance made before the roles were split gets its grants.
		return db.GrantRuntime(ctx)
	}
	if !st.Empty() && !migrate {
		names := make([]string, len(st.Pending))
		for i, m := range st.Pending {
			names[i] = m.Name
		}
		return fmt.Errorf("the database has %d pending migration(s) (%s); run `secretsledger migrate` or start with `secretsledger serve --migrate`",
			len(st.Pending), strings.Join(names, ", "))
	}
	applied, err := db.Migrate(ctx)
	for _, m := range applied {
		env.log.Info("applied migration", "name", m.Name)
	}
	return err
}

func readinessChecks(pool *pgxpool.Pool, db *database.Database) []httpapi.Check {
	return []httpapi.Check{
		{Name: "database", Run: func(ctx context.Context) (string, error) {
			if err := pool.Ping(ctx); err != nil {
				return "", ledgererr.Wrap(err, ledgererr.Unavailable, "database unreachable")
			}
			return "reachable", nil
		}},
		{Name: "migrations", Run: func(ctx context.Context) (string, error) {
			// Over the runtime pool: serve keeps no owner's connection while serving.
			var st migrations.Status
			err := pool.AcquireFunc(ctx, func(c *pgxpool.Conn) (err error) {
				st, err = db.MigrationStatusOn(ctx, c.Conn())
				return err
			})
			return migrationDetail(st, err)
		}},
	}
}

func migrationDetail(st migrations.Status, err error) (string, error) {
	var ce *migrations.ChecksumError
	switch {
	case errors.As(err, &ce):
		return "", ledgererr.Wrap(err, ledgererr.Unavailable, "%s was edited after it was applied", ce.Name)
	case err != nil:
		return "", ledgererr.Wrap(err, ledgererr.Unavailable, "migration state unknown")
	case !st.Current():
		return "", ledgererr.New(ledgererr.Unavailable, "%d pending migration(s); run secretsledger migrate", len(st.Pending))
	}
	return fmt.Sprintf("current (%d applied)", len(st.Applied)), nil
}

// sweepIdempotencyKeys forgets expired idempotency keys until ctx ends. It runs in the
// process holding the idempotency-sweep lease.
func sweepIdempotencyKeys(ctx context.Context, env *environment, l *ledger) {
	tick := time.NewTicker(l.store.SweepInterval())
	defer tick.Stop()
	for {
		if n, err := l.store.SweepIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			env.log.Warn("sweeping expired idempotency keys", "err", err)
		} else if n > 0 {
			env.log.Debug("swept expired idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// maxVaultsPerHealthRound bounds one round of scheduled vault health checks; each check
// takes up to the provider's timeout, so a round of this many ends well within an interval
// of minutes for healthy providers.
const maxVaultsPerHealthRound = 1000

// vaultHealthActor is who the scheduled checks are recorded as.
var vaultHealthActor = actor.Actor{Type: actor.Board, ID: "ledger:vault-health"}

// checkVaultsHealth checks every usable provider vault's health each interval until ctx
// ends, one vault after another; a result is recorded only when a vault's health changed.
// It runs in the process holding the vault-health lease.
func checkVaultsHealth(ctx context.Context, env *environment, l *ledger, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ids, err := l.vaultQueries.UsableVaultIDs(ctx, maxVaultsPerHealthRound)
		if err != nil && ctx.Err() == nil {
			env.log.Warn("scheduled vault health checks: cannot list the vaults", "err", err)
		}
		for _, id := range ids {
			if _, err := l.commands.Vaults.CheckVaultHealth(ctx, commands.Request{Actor: vaultHealthActor}, id); err != nil && ctx.Err() == nil {
				env.log.Warn("scheduled vault health check", "vault_id", id, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// serverGCPercent and serverMemoryLimit tune the garbage collector of the long-running
// commands: a server's live heap is small and its garbage comes fast (every request), so
// Go's default GC percent of 100 collects many times a second; 400 trades memory for
// fewer collections and a shorter latency tail (a live heap of 100–150 MB under load
// then runs in a few hundred MB), and the soft memory limit stops the trade from growing
// without bound with the heap (the collector runs more often near it; set too close to
// the working heap, it brings the latency tail back). GOGC and GOMEMLIMIT, when set, win.
const (
	serverGCPercent   = 400
	serverMemoryLimit = 1 << 30
)

func collectGarbageLessOften() {
	// The runtime reads these from the process environment, not from config.json.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(serverMemoryLimit)
	}
}
