// Package placement decides which provider instance holds a secret: a company's provider
// vaults (the vaults read model) over the deployment's own instances. It implements
// commands.Placer and commands.VaultHealth for the ledger's wiring, and keeps one
// aws_secrets_manager or vault instance per AWS or vault vault: a config change builds a
// new one and closes the one it replaces, and Close closes them all on shutdown. It also
// implements commands.ManagedNamespaces (the namespaces of the deployment and of every
// AWS vault, and the managed roots [namespace/]mount/prefix/id/ of the deployment's and
// every vault vault's, which no external reference may name), and refuses AWS vaults
// while the instance is not configured for AWS (LEDGER_AWS_VAULTS) and vault vaults
// while it has no Vault session, or when a vault names another address than the
// session's.
//
// It imports commands (for the interfaces it implements), queries (the vaults read
// model) and the providers; nothing imports it but cmd/secretsledger.
//
// Imports: commands, eventstore/actor, eventstore/ledgererr, providers, providers/awssm,
// providers/vaultkv, queries.
//
// Third-party: none.
package placement
