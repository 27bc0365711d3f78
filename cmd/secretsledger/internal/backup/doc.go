// Package backup takes, lists, verifies, restores and prunes the ledger's database
// backups (consistent pg_dump files with a manifest beside each, optionally encrypted
// for age recipients), runs the scheduled backups of the process holding the backups
// lease, and exports the master key for the key backup a restore needs besides them.
// It prints nothing but its progress line: the CLI verbs print its results. It may
// import pgx, filippo.io/age, the ledger's eventstore (with pgembed), projections and
// providers/localenc and, under cmd/secretsledger, config, database, instance,
// integritykey, progress and usage; never package main or internal/app.
//
// Imports: cmd/secretsledger/internal/config, cmd/secretsledger/internal/database,
// cmd/secretsledger/internal/instance, cmd/secretsledger/internal/integritykey,
// cmd/secretsledger/internal/progress, cmd/secretsledger/internal/usage, eventstore,
// eventstore/pgembed, projections, providers/localenc.
//
// Third-party: age, pgx.
package backup
