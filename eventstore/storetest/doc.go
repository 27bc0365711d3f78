// Package storetest is the event log's contract as one test suite, run against every
// implementation: the PostgreSQL store (eventstore) and the in-memory log (memlog). It
// covers what the commands rely on (their EventLog): appends at an expected version,
// conditions on other streams, idempotency keys and their look-up before any side
// effect, input checks, one winner among racing creators, and reads of one or several
// streams.
//
// Statements (SQL run in the append's transaction) exist only in a database: the cases
// that need them run when the implementation declares SQL; without it the suite instead
// holds the log to refusing an append that carries statements, and writing nothing.
// What is the PostgreSQL store's alone (the hash chain, Verify, the group-commit writer's
// lifecycle, key expiry, immutability of ledger_events) stays in its own tests.
//
// Imports: eventstore, eventstore/ledgererr.
//
// Third-party: pgx.
//
// Imported by: tests only.
package storetest
