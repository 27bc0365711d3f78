// Package lease elects one process among the ledger processes on a database for each
// background role (the NATS relay, the checkpoint signer, the backup schedule, the
// idempotency sweep), with a row per role in ledger_leases.
//
// A lease is taken and renewed by one short statement (INSERT … ON CONFLICT DO UPDATE …
// WHERE the lease is expired or already ours), with expiry on the database's clock, so it
// works through a transaction-pooling PgBouncer: it keeps no session state and no session
// advisory lock. A holder considers itself holding only until the moment it sent its last
// successful renewal plus the TTL less a margin, measured on its own monotonic clock: that
// moment comes before the database lets anyone else take the lease, so two processes never
// act as holder at once even when renewals fail. Clean shutdown releases the lease, so
// another process takes over at once.
//
// Imports: nothing of ours.
//
// Third-party: pgx.
package lease
