package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/boardtoken"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/metrics"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint/signer"
	"github.com/secretsledger/secretsledger/eventstore/lease"
)

// server is what serving adds to the ledger: the listeners, the bus, the signer, the
// background roles and the HTTP server.
type server struct {
	tls                *tls.Config // nil: plain HTTP
	ln                 net.Listener
	metricsLn          net.Listener // nil: /metrics on the API's listener
	http               *http.Server
	bus                *bus
	signer             *signer.Signer
	roles              *roles
	signerLease, sweep *lease.Lease
	sealer             *lease.Lease
	health, backups    *lease.Lease // nil when the role is off
}

// openServer opens the app for serving. It validates, binds, then prepares: a bad
// configuration or a taken port fails at once, before an instance directory, a
// database or a token is created for nothing.
func (a *App) openServer(ctx context.Context) error {
	CollectGarbageLessOften()
	cfg := a.opts.Config
	if a.opts.Owner {
		return errors.New("app: serve connects as the runtime role, never as the owner")
	}
	if err := cfg.Validate(); err != nil {
		return usage.InvalidConfig(err)
	}
	s := &server{}
	a.server = s
	if err := s.bind(cfg, a.onClose); err != nil {
		return err
	}
	a.metrics = metrics.New()
	var err error
	if a.Dir, err = database.Prepare(cfg); err != nil {
		return err
	}
	if s.tls == nil && !cfg.HTTPLoopback() {
		a.opts.Log.Warn("LEDGER_HTTP_ADDR is not a loopback address and TLS is off: secret values and tokens travel in clear text; "+
			"set LEDGER_TLS_CERT_FILE and LEDGER_TLS_KEY_FILE, or put a TLS-terminating proxy in front", "addr", cfg.HTTPAddr)
	}
	if err := a.openLedger(ctx); err != nil {
		return err
	}
	// Board tokens are answered from memory while startBackground's watch keeps it fresh.
	a.Tokens.Cache = boardtoken.NewCache()
	if err := a.catchUpProjections(ctx); err != nil {
		return err
	}
	// The runtime role may not write board tokens: the first one is made as the owner.
	if err := a.DB.AsOwner(ctx, func(conn *pgx.Conn) error {
		return boardtoken.Store{DB: conn, Key: a.integrity}.EnsureInstanceToken(ctx, filepath.Join(a.Dir.Path, "board.token"), a.opts.Log)
	}); err != nil {
		return err
	}
	if s.bus, err = startBus(ctx, a); err != nil {
		return err
	}
	a.onClose(s.bus.shutdown)
	a.electRoles()
	a.metrics.WatchRelay(s.bus.relay.Status)
	sig, closeSigner, err := startSigner(a, s.bus.relay.NATS)
	if err != nil {
		return err
	}
	a.onClose(closeSigner)
	s.signer = sig
	a.metrics.WatchForged(sig.ForgedAt)
	s.http = a.newHTTPServer()
	return nil
}

// bind loads the TLS certificate and binds the API's and the metrics' listeners, and
// checks that the embedded NATS server's address is free; onClose gets their closing.
func (s *server) bind(cfg config.Config, onClose func(func())) error {
	var err error
	if s.tls, err = loadTLS(cfg); err != nil {
		return err
	}
	if s.ln, err = listen(cfg.HTTPAddr, "LEDGER_HTTP_ADDR"); err != nil {
		return err
	}
	onClose(func() { s.ln.Close() })
	if cfg.MetricsAddr != "" {
		if s.metricsLn, err = listen(cfg.MetricsAddr, "LEDGER_METRICS_ADDR"); err != nil {
			return err
		}
		onClose(func() { s.metricsLn.Close() })
	}
	if cfg.NATSURL == "" {
		// The embedded NATS server binds later, after the database is up; a taken
		// address is found now. (Another process could still take it in between.)
		probe, err := listen(cfg.NATSAddr, "LEDGER_NATS_ADDR")
		if err != nil {
			return err
		}
		probe.Close()
	}
	return nil
}

// electRoles makes this process's lease on every background role that is on.
func (a *App) electRoles() {
	s, cfg := a.server, a.opts.Config
	s.roles = newRoles(a)
	s.bus.relay.Lease = s.roles.lease(lease.Relay)
	s.signerLease, s.sweep = s.roles.lease(lease.CheckpointSigner), s.roles.lease(lease.IdempotencySweep)
	s.sealer = s.roles.lease(lease.Sealer)
	if cfg.BackupInterval > 0 {
		s.backups = s.roles.lease(lease.Backups)
	}
	if cfg.VaultHealthInterval > 0 {
		s.health = s.roles.lease(lease.VaultHealth)
	}
}

// Run serves until ctx ends, the HTTP server fails or the embedded PostgreSQL exits,
// then stops gracefully: HTTP first, then the sealer, the relay and the roles, and the
// signer last, to sign the head of the sealer's last batch.
func (a *App) Run(ctx context.Context) error {
	s := a.server
	if s == nil {
		return errors.New("app: Run needs an app opened with Options.Serve")
	}
	defer a.startSideServers()()
	runCtx, cancel := context.WithCancel(ctx)
	wait := a.startBackground(ctx, runCtx)
	defer func() { cancel(); wait() }()
	if err := a.approveHeldReferences(ctx); err != nil {
		return err
	}
	s.roles.run(runCtx, s.health, a.checkVaultsHealth)
	s.roles.run(runCtx, s.backups, a.runScheduledBackups)
	httpDone := make(chan error, 1)
	go func() {
		if s.tls != nil {
			httpDone <- s.http.ServeTLS(s.ln, "", "") // the certificate is in TLSConfig
			return
		}
		httpDone <- s.http.Serve(s.ln)
	}()
	a.opts.Log.Info("secretsledger serving", "addr", s.ln.Addr().String(), "tls", s.tls != nil, "instance", a.opts.Config.Instance,
		"embedded_database", a.DB.Embedded != nil, "version", a.opts.Version)
	var runErr error
	select {
	case <-ctx.Done():
		a.opts.Log.Info("shutting down")
	case err := <-httpDone:
		runErr = fmt.Errorf("http server: %w", err)
	case <-embeddedExited(a.DB):
		runErr = errors.New("the embedded PostgreSQL exited unexpectedly; see db/postgres.log in the instance directory")
	}
	stopCtx, stopCancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer stopCancel()
	if err := s.http.Shutdown(stopCtx); err != nil {
		a.opts.Log.Warn("http shutdown", "err", err)
	}
	return runErr
}

// startBackground starts the sealer (under its lease), the watch on its backlog, the
// relay, the signer, the idempotency sweep, the memory's tail of the log and the watch
// that keeps the board tokens' cache fresh; wait, after runCtx ends, waits for them all,
// stopping the signer after the sealer.
func (a *App) startBackground(ctx, runCtx context.Context) (wait func()) {
	s := a.server
	s.roles.run(runCtx, s.sealer, func(ctx context.Context) { _ = a.Store.Run(ctx) })
	backlogDone, tokensDone := make(chan struct{}), make(chan struct{})
	go func() { a.Store.WatchBacklog(runCtx); close(backlogDone) }()
	go func() { a.Tokens.Watch(runCtx, a.opts.Log); close(tokensDone) }()
	relayDone := make(chan error, 1)
	go func() { relayDone <- s.bus.relay.Run(runCtx) }()
	signerCtx, stopSigner := context.WithCancel(context.WithoutCancel(ctx))
	signerDone := make(chan struct{})
	go func() {
		defer close(signerDone)
		s.signerLease.Run(signerCtx, func(ctx context.Context) {
			if err := s.signer.Run(ctx); err != nil {
				a.opts.Log.Error("checkpoint signer", "err", err)
			}
		})
	}()
	s.roles.run(runCtx, s.sweep, a.sweepIdempotencyKeys)
	tailFrom, err := a.Store.HeadPosition(ctx) // memory is empty now
	if err != nil {
		tailFrom = -1
	}
	go tailCommands(runCtx, a.Commands, a.Store, tailFrom)
	return func() {
		<-backlogDone
		<-tokensDone
		<-relayDone
		s.roles.wait()
		stopSigner()
		<-signerDone
	}
}

func embeddedExited(db *database.Database) <-chan struct{} {
	if db.Embedded == nil || !db.Embedded.Owned() {
		return nil // never fires
	}
	return db.Embedded.Exited()
}
