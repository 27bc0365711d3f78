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

// Handlers are the write side: one command handler per aggregate, on one store.
type Handlers struct {
	Secrets *commands.Secrets
	Vaults  *commands.Vaults
}

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
	consumers   queries.Consumers
	vaults      queries.Vaults
}

// newCommands opens the event store over pool with cfg and builds every command handler
// on it. The store reports each committed batch to the handlers' memory (Recorded):
// built together here, a store cannot miss it.
func newCommands(pool *pgxpool.Pool, cfg eventstore.Config, d commandDeps) (*eventstore.Store, *Handlers) {
	secrets := &commands.Secrets{LegacyThrough: d.legacyThrough, Credentials: d.credentials}
	cfg.Recorded = secrets.Observe
	store := eventstore.New(pool, cfg)
	secrets.Log, secrets.Resolutions, secrets.Providers, secrets.Placer = store, d.resolutions, d.placer.Deployment, d.placer
	secrets.DefaultProvider, secrets.RecoveryWindow, secrets.StrictMode = d.cfg.SecretsProvider, d.cfg.DeleteRecovery, d.cfg.StrictMode
	secrets.Directory, secrets.Managed = directory.Directory{Consumers: d.consumers}, d.placer
	secrets.ExternalPrefixes = d.cfg.AWS.ExternalPrefixes
	vaults := &commands.Vaults{Log: store, Locator: d.vaults, Health: d.placer, AWSVaults: d.cfg.AWS.Vaults}
	return store, &Handlers{Secrets: secrets, Vaults: vaults}
}

// tail feeds the handlers' memory the events appended by other ledger processes, from
// position from on, until ctx ends.
func (c *Handlers) tail(ctx context.Context, store *eventstore.Store, from int64) {
	c.Secrets.Tail(ctx, store, from)
}
