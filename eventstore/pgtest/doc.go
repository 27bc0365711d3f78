// Package pgtest gives tests a real PostgreSQL: one embedded cluster (pgembed) per test
// binary, started on first use, and a fresh database per test; and, for the pooler
// tests, a PgBouncer in transaction mode in front of it.
//
// Under -short (the fast tier) every helper skips its test (SkipIfShort): nothing
// starts PostgreSQL.
//
// Imports: eventstore/integrity, eventstore/pgembed, migrations.
//
// Third-party: pgx.
//
// Imported by: tests only.
package pgtest
