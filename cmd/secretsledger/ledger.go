package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/boardtoken"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/directory"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/metrics"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/placement"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/localenc"
	"github.com/secretsledger/secretsledger/queries"
)

// ledger is every part of a running ledger, wired: the one place that knows them all.
type ledger struct {
	dir       instance.Dir
	db        *database.Database
	pool      *pgxpool.Pool
	store     *eventstore.Store
	local     *localenc.Provider
	commands  *commands.Handlers
	queries   queries.Secrets
	consumers queries.Consumers
	events    queries.Events
	freezes   queries.Freezes
	tokens    boardtoken.Store
	// integrity is the instance's integrity key (credential hashes).
	integrity integrity.Key
	// committed is signalled after every committed append batch (wakes the relay);
	// signerWake likewise, for the checkpoint signer.
	committed, signerWake chan struct{}

	vaultQueries queries.Vaults
	// placer finds the provider instance of every secret (vaults, deployment defaults).
	placer *placement.Placer
	// noIntegrityKey, when set, is why the store has no integrity key (an operator
	// command on an instance that has none yet): it verifies without MACs and does not
	// append.
	noIntegrityKey error
}

// prepareDatabase validates the configuration, prepares the instance directory and
// checks that the embedded mode has PostgreSQL binaries.
func (env *environment) prepareDatabase() (instance.Dir, error) {
	dir, err := env.prepare()
	if err != nil {
		return dir, err
	}
	return dir, database.CheckBinaries(env.cfg)
}

// Who a ledger's pool connects as.
const (
	// asRuntime is serve's role: INSERT and SELECT on the log, what the read models need.
	asRuntime = false
	// asOwner is for operator commands that need more (replay truncates read models,
	// rekey locks data keys, token revoke updates board tokens); they run where the
	// instance directory, and with it the owner's password, is anyway.
	asOwner = true
)

// openLedger opens the database (migrating an empty one, or a pending one when migrate
// is set, and granting the runtime privileges), the provider and the store, with a pool
// as the runtime role or, for operator commands, as the owner. close releases it all;
// the store's writer is not started (serve runs it). With m (serve), the store, the
// resolutions and the provider's calls are observed; one-shot commands pass nil.
func openLedger(ctx context.Context, env *environment, dir instance.Dir, migrate, owner bool, m *metrics.Metrics) (*ledger, func(), error) {
	db, err := database.Open(ctx, env.cfg, dir, env.log)
	if err != nil {
		return nil, nil, err
	}
	closeDB := func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := db.Close(stopCtx); err != nil {
			env.log.Error("stopping the embedded database", "err", err)
		}
	}
	if err := ensureMigrated(ctx, env, db, migrate); err != nil {
		closeDB()
		return nil, nil, err
	}
	// serve creates the integrity key on first start. An operator command runs without it
	// when the file is missing: it verifies the chain without MACs, and whatever needs the
	// key (appends, tokens) refuses with noIntegrityKey. It never creates one: a new key
	// would make every event written under the old one read as forged.
	keys, noIntegrityKey, err := storeIntegrityKey(env, owner)
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	var auth eventstore.Authenticator
	if noIntegrityKey == nil {
		auth = keys
		if err := keyStoredTokenHashes(ctx, env, db, keys); err != nil {
			closeDB()
			return nil, nil, err
		}
	}
	poolURL := db.URL
	if owner {
		poolURL = db.MigrationURL
	}
	pool, err := pgxpool.New(ctx, poolURL)
	if err != nil {
		closeDB()
		return nil, nil, fmt.Errorf("open database pool: %w", err)
	}
	closeAll := func() { pool.Close(); closeDB() }
	key, findings, err := localenc.LoadMasterKey(env.getenv, filepath.Join(dir.Path, "secrets"))
	if err != nil {
		closeAll()
		return nil, nil, usageError{err}
	}
	for _, f := range findings {
		env.log.Warn("master key", "finding", string(f))
	}
	local, err := localenc.NewProvider(pool, key, findings)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	// Before anything can write a secret: a key other than the one the stored data keys
	// are wrapped with would otherwise start, answer healthy, and write new secrets
	// under itself.
	if err := local.EnsureKeyCheck(ctx); err != nil {
		closeAll()
		var mismatch *localenc.MismatchError
		if errors.As(err, &mismatch) {
			return nil, nil, usageError{err}
		}
		return nil, nil, err
	}
	var legacyThrough int64
	if err := pool.QueryRow(ctx, `SELECT legacy_through FROM ledger_integrity`).Scan(&legacyThrough); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("read where unauthenticated events end: %w", err)
	}
	committed, signerWake := make(chan struct{}, 1), make(chan struct{}, 1)
	storeCfg := eventstore.Config{Projector: projections.Inline(projections.All()), Committed: []chan<- struct{}{committed, signerWake},
		IdempotencyTTL: env.cfg.IdempotencyTTL, Authenticator: auth}
	var localCalls providers.Provider = local // what commands and queries call
	var resolutions commands.ResolutionObserver
	if m != nil {
		storeCfg.Observer, resolutions, localCalls = m, m, m.Provider(local)
	}
	store := eventstore.New(pool, storeCfg)
	secretQueries := queries.Secrets{DB: pool}
	consumers := queries.Consumers{DB: pool, Secrets: secretQueries, Values: localCalls}
	placer, err := newPlacer(ctx, env, local, localCalls, queries.Vaults{DB: pool}, m)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	closeAll = func() { placer.Close(); pool.Close(); closeDB() }
	// The write side: its runtime's memory registers on the store's committed batches
	// (before the store's writer runs); a secret command's answer is read back in its
	// append's transaction.
	vaultQueries := queries.Vaults{DB: pool}
	cmdCfg := commands.Config{Log: store, Resolutions: resolutions, Providers: placer.Deployment, Placer: placer,
		DefaultProvider: env.cfg.SecretsProvider, RecoveryWindow: env.cfg.DeleteRecovery, StrictMode: env.cfg.StrictMode,
		Directory: directory.Directory{Consumers: consumers}, Managed: placer, ExternalPrefixes: env.cfg.AWS.ExternalPrefixes,
		LegacyThrough: legacyThrough, VaultLocator: vaultQueries, VaultHealth: placer, AWSVaults: env.cfg.AWS.Vaults,
		Readback: func(id string, got func(any)) eventstore.Statement {
			return secretQueries.Readback(id, func(s queries.Secret) { got(s) })
		}}
	if noIntegrityKey == nil {
		cmdCfg.Credentials = keys
	}
	cmds := commands.New(cmdCfg)
	l := &ledger{
		dir: dir, db: db, pool: pool, store: store, local: local,
		commands:  cmds,
		queries:   secretQueries,
		consumers: consumers,
		events:    queries.Events{DB: pool},
		freezes:   queries.Freezes{DB: pool},
		committed: committed, signerWake: signerWake,
		tokens:         boardtoken.Store{DB: pool, Key: keys},
		integrity:      keys,
		noIntegrityKey: noIntegrityKey,
	}
	l.vaultQueries = vaultQueries
	l.placer = placer
	return l, closeAll, nil
}

// keyStoredTokenHashes keys, as the owner, the hashes of board tokens stored before
// hashes were keyed, so that they keep working (see boardtoken.Store.KeyStoredHashes).
func keyStoredTokenHashes(ctx context.Context, env *environment, db *database.Database, keys integrity.Key) error {
	return db.AsOwner(ctx, func(conn *pgx.Conn) error {
		n, err := boardtoken.Store{DB: conn, Key: keys}.KeyStoredHashes(ctx)
		if n > 0 {
			env.log.Info("keyed the stored hashes of board tokens made before hashes were keyed", "tokens", n)
		}
		return err
	})
}

// Authenticate implements httpapi.Authenticator: board tokens and agent keys, told
// apart by their prefix.
func (l *ledger) Authenticate(ctx context.Context, token string) (actor.Actor, error) {
	if strings.HasPrefix(token, commands.AgentTokenPrefix) {
		return l.commands.AgentKeys.AuthenticateAgent(ctx, token)
	}
	return l.tokens.Authenticate(ctx, token)
}

// withLedger opens the ledger for a one-shot operator command (no pending migrations
// applied; the pool connects as the owner), runs fn, and closes it.
func withLedger(ctx context.Context, env *environment, fn func(*ledger) error) error {
	dir, err := env.prepareDatabase()
	if err != nil {
		return err
	}
	l, closeLedger, err := openLedger(ctx, env, dir, false, asOwner, nil)
	if err != nil {
		return err
	}
	defer closeLedger()
	return fn(l)
}

// runWriter starts the event store's writer for a one-shot command that appends, and
// returns the function that stops it. Without the integrity key it refuses: events the
// writer cannot authenticate would read as forged.
func (l *ledger) runWriter(ctx context.Context) (stop func(), err error) {
	if l.noIntegrityKey != nil {
		return nil, l.noIntegrityKey
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = l.store.Run(ctx); close(done) }()
	return func() { cancel(); <-done }, nil
}

// newPlacer builds the deployment's provider instances (local_encrypted always;
// aws_secrets_manager when it is the default provider) and the placement of secrets in
// the companies' vaults over them. Instances are measured when m is set.
func newPlacer(ctx context.Context, env *environment, local *localenc.Provider, localCalls providers.Provider,
	vaults queries.Vaults, m *metrics.Metrics) (*placement.Placer, error) {
	a := env.cfg.AWS
	p := &placement.Placer{
		Vaults:          vaults,
		Deployment:      map[string]providers.Provider{providers.LocalEncrypted: localCalls},
		DefaultProvider: env.cfg.SecretsProvider,
		AWSDefaults: awssm.Config{Endpoint: a.Endpoint, Prefix: a.Prefix, KMSKeyID: a.KMSKeyID, Environment: a.Environment,
			ProviderOwner: a.ProviderOwner, DeleteRecoveryDays: a.DeleteRecoveryDays, CacheTTL: a.CacheTTL,
			DeploymentID: a.DeploymentID, Log: env.log, Fingerprint: local.Sealer().Fingerprint},
		AWSVaults: a.Vaults,
	}
	p.AWS = func(ctx context.Context, cfg awssm.Config) (providers.Provider, error) {
		inst, err := awssm.New(ctx, cfg, awssm.WithGetenv(env.getenv))
		if err != nil || m == nil {
			return inst, err
		}
		return m.Provider(inst), nil
	}
	if env.cfg.SecretsProvider == providers.AWSSecretsManager {
		cfg := p.AWSDefaults
		cfg.Region, cfg.DeploymentID = a.Region, a.DeploymentID
		inst, err := p.AWS(ctx, cfg)
		if err != nil {
			return nil, usageError{fmt.Errorf("the deployment's aws_secrets_manager settings: %w", err)}
		}
		p.Deployment[providers.AWSSecretsManager] = inst
	}
	return p, nil
}
