// Package eventstore is the ledger's source of truth: the append-only, hash-chained
// event log in the PostgreSQL table ledger_events.
//
// Appends commit in parallel from any number of processes (a process's appends share
// transactions, two at a time): a transaction locks only the streams its appends write
// and read (in one order), takes their positions from a sequence and writes their
// events, authenticated by the writer's MAC, to ledger_appends. An append is
// acknowledged at commit. The sealer (Run) then moves them
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
