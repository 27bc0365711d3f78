// Package memlog is the event log's contract kept in memory, for the fast tier of
// tests (go test -short), which starts no PostgreSQL: AppendWith with expected
// versions, conditions on other streams and idempotency keys, ReadStream, ReadStreams
// and Idempotent, under the same rules as eventstore.Store (it applies the store's own
// checks: eventstore.Checked, Replay, Stale). eventstore/storetest runs the same
// contract suite against both.
//
// What only a database can do it refuses rather than fakes: an append that carries
// Statements (SQL that runs in the append's transaction) fails with EINTERNAL and
// writes nothing, so a test that needs them runs against the PostgreSQL store. Events
// are not hash-chained or authenticated, there is no projector, and idempotency keys
// do not expire.
//
// Imports: eventstore, eventstore/ledgererr.
//
// Third-party: ulid.
//
// Imported by: tests only.
package memlog
