package commands

import (
	"time"

	"github.com/secretsledger/secretsledger/providers"
)

// Config is what the write side is built from: the log every handler decides on and
// appends to, and each handler's dependencies.
type Config struct {
	// Log is the event store: New registers the runtime's memory on its committed
	// batches.
	Log RecordingLog
	// Providers are the deployment's instances, by provider id.
	Providers map[string]providers.Provider
	// Placer, when set, places secrets in the companies' provider vaults.
	Placer          Placer
	DefaultProvider string
	RecoveryWindow  time.Duration
	// StrictMode (PAPERCLIP_SECRETS_STRICT_MODE) refuses plain values under sensitive env keys.
	StrictMode bool
	// Directory answers lookups across streams (read models).
	Directory Directory
	// Now, when set, replaces time.Now (tests of the recovery window).
	Now func() time.Time
	// Resolutions, when set, hears the outcome of every resolved config path (metrics).
	Resolutions ResolutionObserver
	// Managed, when set, lists the instance's managed namespaces, which no external
	// reference may name (see externalRefGuard).
	Managed ManagedNamespaces
	// ExternalPrefixes (LEDGER_AWS_EXTERNAL_PREFIXES) approves aws_secrets_manager
	// external references under these prefixes for every company, AnyExternalRef for
	// any; nil: none.
	ExternalPrefixes []string
	// VaultExternalPrefixes (LEDGER_VAULT_EXTERNAL_PREFIXES) is the same for vault
	// references, compared by their [namespace/]mount/path name.
	VaultExternalPrefixes []string
	// Credentials keys agent keys' hashes; without it no agent key is issued or accepted.
	Credentials CredentialKey
	// LegacyThrough is the last log position written before events were authenticated
	// (ledger_integrity.legacy_through): an agent key issued with a bare hash after it
	// was not issued by the ledger and is refused.
	LegacyThrough int64
	// Readback, when set, reads a secret command's secret back in its append's
	// transaction (the answer of the API).
	Readback Readback
	// VaultLocator names the company of a vault id (vault commands).
	VaultLocator VaultLocator
	// VaultHealth checks vaults; nil is DefaultVaultHealth.
	VaultHealth VaultHealth
	// AWSVaults allows aws_secrets_manager vaults (LEDGER_AWS_VAULTS on, or an AWS
	// deployment); without it, creating one is refused.
	AWSVaults bool
	// VaultAddress is the deployment's Vault address (PAPERCLIP_SECRETS_VAULT_ADDR), ""
	// when it has no Vault session: vault vaults are then coming_soon drafts. A vault
	// vault's address must be this one (the session's token goes to it).
	VaultAddress string
}

// Handlers are the write side's handlers, one per aggregate or use case, all on one
// Runtime.
type Handlers struct {
	Runtime     *Runtime
	Secrets     *Secrets
	Consumers   *Consumers
	AgentKeys   *AgentKeys
	Policies    *Policies
	Incidents   *Incidents
	Resolver    *Resolver
	Importer    *Importer
	Subscribers *Subscribers
	Vaults      *Vaults
	LeakScans   *LeakScans
}

// New builds the runtime over cfg.Log (its memory registers on the log's committed
// batches: call New before the log's writer starts) and every handler on it.
func New(cfg Config) *Handlers {
	return newHandlers(NewRuntime(cfg.Log, cfg.Credentials, cfg.LegacyThrough), cfg)
}

// newHandlers builds every handler on rt.
func newHandlers(rt *Runtime, cfg Config) *Handlers {
	stores := storage{instances: cfg.Providers, placer: cfg.Placer, defaultProvider: cfg.DefaultProvider}
	ext := externalRefs{rt: rt, managed: cfg.Managed, prefixes: map[string][]string{
		providers.AWSSecretsManager: cfg.ExternalPrefixes, providers.HashiCorpVault: cfg.VaultExternalPrefixes}}
	secrets := &Secrets{rt: rt, storage: stores, ext: ext, recoveryWindow: cfg.RecoveryWindow, now: cfg.Now, readback: cfg.Readback}
	return &Handlers{
		Runtime:     rt,
		Secrets:     secrets,
		Consumers:   &Consumers{rt: rt, storage: stores, directory: cfg.Directory, strictMode: cfg.StrictMode, secrets: secrets},
		AgentKeys:   &AgentKeys{rt: rt, directory: cfg.Directory},
		Policies:    &Policies{rt: rt},
		Incidents:   &Incidents{rt: rt},
		Resolver:    &Resolver{rt: rt, storage: stores, ext: ext, observer: cfg.Resolutions},
		Importer:    &Importer{rt: rt, secrets: secrets, storage: stores, ext: ext, directory: cfg.Directory},
		Subscribers: &Subscribers{rt: rt},
		Vaults: &Vaults{rt: rt, locator: cfg.VaultLocator, checker: cfg.VaultHealth, awsVaults: cfg.AWSVaults,
			vaultAddress: cfg.VaultAddress},
		LeakScans: &LeakScans{rt: rt, storage: stores, ext: ext, directory: cfg.Directory, maxValues: MaxScanValues, maxFindings: MaxScanFindings,
			running: make(chan struct{}, MaxConcurrentScans)},
	}
}
