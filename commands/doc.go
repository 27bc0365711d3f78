// Package commands holds the ledger's write side: one handler per aggregate or use case
// (Secrets, Consumers, AgentKeys, Policies, Incidents, Resolver, Importer, Subscribers,
// Vaults), each a struct of its own dependencies, all on one decision Runtime that New
// builds over the event store. The runtime keeps the aggregates in memory (current with
// the store's committed batches, on which it registers itself, and with the log tail),
// runs each command's attempt until its answer holds against the log (decideAgain), and
// appends with the version of every stream the decision read, the placement's vault
// stream included. A command decides (validation and rules, no I/O) on folded state,
// writes material to a provider when it carries a value, and appends the resulting
// events; a provider write whose append fails or is a replay is discarded, so no live
// orphan remains. One file per command.
//
// Of providers/awssm it uses only the pure naming rule, so a vault's config is validated
// by the rule the provider applies; it never imports queries or projections.
//
// Imports: eventstore, eventstore/actor, eventstore/events, eventstore/ledgererr,
// providers, providers/awssm, providers/redact, providers/vaultkv.
//
// Third-party: bcrypt, pgx, ulid.
package commands
