package app

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/directory"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/placement"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/queries"
)

// commandDeps are what the command handlers are built over, besides the store.
type commandDeps struct {
	cfg config.Config
	// legacyThrough is where the events written before events were authenticated end.
	legacyThrough int64
	// credentials keys the hashes of agent keys; nil without the integrity key.
	credentials commands.CredentialKey
	// resolutions observes resolutions; nil unless serving.
	resolutions commands.ResolutionObserver
	placer      *placement.Placer
	secrets     queries.Secrets
	consumers   queries.Consumers
	vaults      queries.Vaults
}

// newCommands opens the event store over pool with cfg and builds every command handler
// on it, over one runtime whose memory registers on the store's committed batches
// before the store's writer runs: built together here, a store cannot miss it. A secret
// command's answer is read back in its append's transaction.
func newCommands(pool *pgxpool.Pool, cfg eventstore.Config, d commandDeps) (*eventstore.Store, *commands.Handlers) {
	store := eventstore.New(pool, cfg)
	c := d.cfg
	return store, commands.New(commands.Config{Log: store, Resolutions: d.resolutions,
		Providers: d.placer.Deployment, Placer: d.placer, Managed: d.placer, VaultHealth: d.placer,
		DefaultProvider: c.SecretsProvider, RecoveryWindow: c.DeleteRecovery, StrictMode: c.StrictMode,
		Directory: directory.Directory{Consumers: d.consumers}, ExternalPrefixes: c.AWS.ExternalPrefixes,
		Credentials: d.credentials, LegacyThrough: d.legacyThrough, VaultLocator: d.vaults, AWSVaults: c.AWS.Vaults,
		VaultExternalPrefixes: c.Vault.ExternalPrefixes, VaultAddress: c.Vault.Addr,
		Readback: func(id string, got func(any)) eventstore.Statement {
			return d.secrets.Readback(id, func(s queries.Secret) { got(s) })
		}})
}

// tailCommands feeds the handlers' memory the events appended by other ledger
// processes, from position from on, until ctx ends.
func tailCommands(ctx context.Context, c *commands.Handlers, store *eventstore.Store, from int64) {
	c.Runtime.Tail(ctx, store, from)
}
