// Package database decides where the ledger's PostgreSQL is (the embedded cluster of
// the instance, or DATABASE_URL / DATABASE_MIGRATION_URL) and as whom the ledger
// connects: the owner runs migrations and grants, the runtime role (the URL serve's pool
// uses) gets only the runtime privileges, and CheckRuntimeRole tells doctor whether that
// role could alter the log. Prepare and EnsureMigrated are what every command opening
// the database does first; NewClient runs PostgreSQL's client programs (pg_dump,
// pg_restore, psql) without a password on their command line. Only cmd/secretsledger
// imports it.
//
// Imports: cmd/secretsledger/internal/config, cmd/secretsledger/internal/instance,
// cmd/secretsledger/internal/usage, eventstore/pgembed, migrations.
//
// Third-party: pgx.
package database
