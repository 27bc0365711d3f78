// Package pgtest gives tests a real PostgreSQL: one embedded cluster (pgembed) per test
// binary, started on first use, and a fresh database per test; for the pooler tests, a
// PgBouncer in transaction mode in front of it; and for the failover tests a Patroni
// cluster of its own (etcd and three PostgreSQL nodes, synchronous_mode) whose primary
// can be crashed, brought back and switched over.
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
