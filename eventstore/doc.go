// Package eventstore is the ledger's source of truth: the append-only, hash-chained
// event log in the PostgreSQL table ledger_events.
//
// Writes go through Store.Append, which hands them to a single group-commit writer. The
// writer batches concurrent appends into one transaction that first takes a
// transaction-scoped advisory lock and then assigns positions, so commit order equals
// position order: a reader of "position > cursor" can never skip an event that commits
// late (docs/eventstore.md says why). The same lock makes the
// hash chain a simple fold: every row's prev_hash is the hash of the row before it.
//
// It uses pgx and ulid, and checkpoint for the head it verifies against; nothing above
// it (commands, projections, cmd).
//
// Imports: eventstore/checkpoint, eventstore/ledgererr, eventstore/pgfault.
//
// Third-party: pgx, ulid.
package eventstore
