package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/boardtoken"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/integritykey"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/metrics"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/placement"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/localenc"
	"github.com/secretsledger/secretsledger/queries"
)

// shutdownTimeout bounds the graceful stop of HTTP and the database.
const shutdownTimeout = 20 * time.Second

// App is every part of a running ledger, wired.
type App struct {
	opts Options
	Dir  instance.Dir
	DB   *database.Database
	Pool *pgxpool.Pool
	// Store is the event store; its sealer runs in Run (serve, under its lease) or from
	// RunWriter.
	Store *eventstore.Store
	Local *localenc.Provider
	// Commands are the command handlers.
	Commands *commands.Handlers
	Tokens   boardtoken.Store
	// NoIntegrityKey, when set, is why the store has no integrity key (an operator
	// command on an instance that has none yet): it verifies without MACs and does not
	// append.
	NoIntegrityKey error

	integrity integrity.Key
	queries   readSide
	// placer finds the provider instance of every secret (vaults, deployment defaults).
	placer *placement.Placer
	// committed is signalled after every committed append batch (wakes the relay);
	// signerWake likewise, for the checkpoint signer.
	committed, signerWake chan struct{}
	metrics               *metrics.Metrics // nil unless serving
	server                *server          // nil unless serving
	closers               []func()
}

// readSide are the queries the API and the bus read through.
type readSide struct {
	secrets   queries.Secrets
	consumers queries.Consumers
	events    queries.Events
	freezes   queries.Freezes
	vaults    queries.Vaults
}

// Open opens the application (see the package's doc and Options.Serve). Close releases
// what it opened, also when Run was never called.
func Open(ctx context.Context, o Options) (*App, error) {
	a := &App{opts: o}
	var err error
	if o.Serve {
		err = a.openServer(ctx)
	} else {
		a.Dir, err = database.Prepare(o.Config)
		if err == nil {
			err = a.openLedger(ctx)
		}
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Close releases everything Open opened, last opened first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

func (a *App) onClose(f func()) { a.closers = append(a.closers, f) }

// openLedger opens the database (migrating an empty one, or a pending one with
// Options.Migrate, and granting the runtime privileges), the integrity key, the pool
// (as the runtime role unless Options.Owner), the providers, the store, the commands
// and the queries. The store's writer is not started.
func (a *App) openLedger(ctx context.Context) error {
	o := a.opts
	if err := a.openDatabase(ctx); err != nil {
		return err
	}
	auth, err := a.loadIntegrityKey(ctx)
	if err != nil {
		return err
	}
	poolURL := a.DB.URL
	if o.Owner {
		poolURL = a.DB.MigrationURL
	}
	if a.Pool, err = openPool(ctx, poolURL); err != nil {
		return err
	}
	a.onClose(a.Pool.Close)
	localCalls, err := a.openLocalProvider(ctx)
	if err != nil {
		return err
	}
	var legacyThrough int64
	if err := a.Pool.QueryRow(ctx, `SELECT legacy_through FROM ledger_integrity`).Scan(&legacyThrough); err != nil {
		return fmt.Errorf("read where unauthenticated events end: %w", err)
	}
	a.queries.vaults = queries.Vaults{DB: a.Pool}
	vs, err := NewVaultSession(o.Config)
	if err != nil {
		return err
	}
	if vs != nil {
		a.onClose(vs.Close) // after the placer's instances, closed before it
	}
	if a.placer, err = newPlacer(ctx, o, a.Local, localCalls, a.queries.vaults, vs, a.metrics); err != nil {
		return err
	}
	a.onClose(a.placer.Close)
	a.queries.secrets = queries.Secrets{DB: a.Pool}
	a.queries.consumers = queries.Consumers{DB: a.Pool, Secrets: a.queries.secrets, Values: localCalls}
	a.queries.events, a.queries.freezes = queries.Events{DB: a.Pool}, queries.Freezes{DB: a.Pool}
	a.committed, a.signerWake = make(chan struct{}, 1), make(chan struct{}, 1)
	storeCfg := eventstore.Config{Projector: projections.Inline(projections.All()), Committed: []chan<- struct{}{a.committed, a.signerWake},
		IdempotencyTTL: o.Config.IdempotencyTTL, Authenticator: auth}
	deps := commandDeps{cfg: o.Config, legacyThrough: legacyThrough, placer: a.placer, secrets: a.queries.secrets,
		consumers: a.queries.consumers, vaults: a.queries.vaults}
	if a.NoIntegrityKey == nil {
		deps.credentials = a.integrity
	}
	if a.metrics != nil {
		storeCfg.Observer, deps.resolutions = sealLog{a.metrics, o.Log}, a.metrics
	}
	a.Store, a.Commands = newCommands(a.Pool, storeCfg, deps)
	// Provider instances are built from the vaults' authenticated log, not their rows.
	a.placer.Logged = a.Commands.Vaults
	a.Tokens = boardtoken.Store{DB: a.Pool, Key: a.integrity}
	return nil
}

// openDatabase opens the database and brings its schema and grants up to date.
func (a *App) openDatabase(ctx context.Context) error {
	db, err := database.Open(ctx, a.opts.Config, a.Dir, a.opts.Log)
	if err != nil {
		return err
	}
	a.DB = db
	a.onClose(func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := db.Close(stopCtx); err != nil {
			a.opts.Log.Error("stopping the embedded database", "err", err)
		}
	})
	return db.EnsureMigrated(ctx, a.opts.Log, a.opts.Migrate)
}

// loadIntegrityKey loads the integrity key, and returns what the store authenticates
// events with: nil without a key. serve creates the key on first start. An operator
// command runs without it when the file is missing: it verifies the chain without MACs,
// and whatever needs the key (appends, tokens) refuses with NoIntegrityKey. It never
// creates one: a new key would make every event written under the old one read as
// forged.
func (a *App) loadIntegrityKey(ctx context.Context) (eventstore.Authenticator, error) {
	keys, missing, err := integritykey.ForStore(a.opts.Config, a.opts.Log, !a.opts.Serve)
	if err != nil {
		return nil, err
	}
	a.integrity, a.NoIntegrityKey = keys, missing
	if missing != nil {
		return nil, nil
	}
	// The hashes of board tokens stored before hashes were keyed are keyed, as the
	// owner, so that they keep working (see boardtoken.Store.KeyStoredHashes).
	err = a.DB.AsOwner(ctx, func(conn *pgx.Conn) error {
		n, err := boardtoken.Store{DB: conn, Key: keys}.KeyStoredHashes(ctx)
		if n > 0 {
			a.opts.Log.Info("keyed the stored hashes of board tokens made before hashes were keyed", "tokens", n)
		}
		return err
	})
	return keys, err
}

// openLocalProvider opens the local_encrypted provider over the pool and returns what
// commands and queries call (measured when serving).
func (a *App) openLocalProvider(ctx context.Context) (providers.Provider, error) {
	key, findings, err := localenc.LoadMasterKey(a.opts.Getenv, filepath.Join(a.Dir.Path, "secrets"))
	if err != nil {
		return nil, usage.Wrap(err)
	}
	for _, f := range findings {
		a.opts.Log.Warn("master key", "finding", string(f))
	}
	if a.Local, err = localenc.NewProvider(a.Pool, key, findings); err != nil {
		return nil, err
	}
	// Before anything can write a secret: a key other than the one the stored data keys
	// are wrapped with would otherwise start, answer healthy, and write new secrets
	// under itself.
	if err := a.Local.EnsureKeyCheck(ctx); err != nil {
		var mismatch *localenc.MismatchError
		if errors.As(err, &mismatch) {
			return nil, usage.Wrap(err)
		}
		return nil, err
	}
	if a.metrics != nil {
		return a.metrics.Provider(a.Local), nil
	}
	return a.Local, nil
}

// Authenticate implements httpapi.Authenticator: board tokens and agent keys, told
// apart by their prefix.
func (a *App) Authenticate(ctx context.Context, token string) (actor.Actor, error) {
	if strings.HasPrefix(token, commands.AgentTokenPrefix) {
		return a.Commands.AgentKeys.AuthenticateAgent(ctx, token)
	}
	return a.Tokens.Authenticate(ctx, token)
}

// RunWriter starts the event store's sealer for a one-shot command that appends, and
// returns the function that stops it once it sealed what the command appended (when it
// can: a long transaction elsewhere may hold it back, and a serve seals it later).
// Without the integrity key it refuses: events the writer cannot authenticate would read
// as forged.
func (a *App) RunWriter(ctx context.Context) (stop func(), err error) {
	if a.NoIntegrityKey != nil {
		return nil, a.NoIntegrityKey
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = a.Store.Run(ctx); close(done) }()
	return func() { cancel(); <-done }, nil
}

// defaultPoolConns is the pool's size when DATABASE_URL sets no pool_max_conns: appends
// commit in parallel, each on a connection of its own for its two round trips and its
// commit, so the pool bounds how many are in flight (pgx's default is 4 on 2 cores).
const defaultPoolConns = 32

func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultPoolConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return pool, nil
}

// sealLog is the metrics' Observer that also logs why the sealer could not seal.
type sealLog struct {
	*metrics.Metrics
	log *slog.Logger
}

func (o sealLog) SealFailed(err error) {
	o.Metrics.SealFailed(err)
	o.log.Error("sealer", "err", err)
}
