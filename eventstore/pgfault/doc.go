// Package pgfault tells a database that cannot run a statement now (a lost connection,
// a server shutting down or starting, a standby where the primary was, no connection
// slot left) from a statement the database refused. The first is a fault of
// availability that a retry may get past, answered 503; the second is the ledger's own
// error, answered 500.
//
// It exists because pgx reports both as errors and a failover produces the first kind
// with PostgreSQL error codes: a switchover terminates every session with 57P01, and a
// connection that reaches a demoted primary gets 25006 on its first write.
//
// Imports: nothing of ours.
//
// Third-party: pgx.
package pgfault
