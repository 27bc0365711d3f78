// Package eventstore is the ledger's source of truth: the append-only, hash-chained
// event log in the PostgreSQL table ledger_events.
//
// Appends commit in parallel, each in a transaction of its own, from any number of
// processes: an append locks only the streams it writes and reads (in one order), takes
// its positions from a sequence and writes its events, authenticated by the writer's
// MAC, to ledger_appends. It is acknowledged at commit. The sealer (Run) then moves them
// into ledger_events in position order, chaining each to the one before, once no
// transaction that could still commit a smaller position is running: readers of the
// sealed log ("position > cursor") never skip an event (docs/eventstore.md says how and
// why).
//
// It uses pgx and ulid, and checkpoint for the head it verifies against; nothing above
// it (commands, projections, cmd).
//
// Imports: eventstore/checkpoint, eventstore/ledgererr, eventstore/pgfault.
//
// Third-party: pgx, ulid.
package eventstore
