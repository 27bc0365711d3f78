// Package commands holds the ledger's write side: one file per command. Each loads its
// aggregate's stream, folds it, decides (validation and rules, no I/O), writes material
// to a provider when the command carries a value, and appends the resulting events with
// the expected stream version. A provider write whose append fails or is a replay is
// discarded, so no live orphan remains.
//
// Of providers/awssm it uses only the pure naming rule, so a vault's config is validated
// by the rule the provider applies; it never imports queries or projections.
//
// Imports: eventstore, eventstore/actor, eventstore/events, eventstore/ledgererr,
// providers, providers/awssm.
//
// Third-party: bcrypt, pgx, ulid.
package commands
