// Package database decides where the ledger's PostgreSQL is (the embedded cluster of
// the instance, or DATABASE_URL / DATABASE_MIGRATION_URL) and runs migrations against
// it. Only cmd/secretsledger imports it.
package database
