// Package app is the running ledger, wired: the one place that knows every part. Open
// opens the database (migrating it as needed), the integrity key, the pool, the
// providers and the placement of secrets, the event store with its inline projections,
// the commands with their memory (which observes every committed batch; it is wired
// here once, so no caller can forget it) and the queries. With Options.Serve, Open also
// binds the listeners, starts the NATS bus and the checkpoint signer and builds the
// HTTP API; Run then serves until its context ends, with the background roles (relay,
// checkpoint signer, idempotency sweep, vault health checks, scheduled backups) each
// under its lease; Close releases everything. Without Serve (operator commands) the
// pool connects as the owner, nothing is measured, and RunWriter starts the store's
// writer for a command that appends.
//
// Package main builds Options from its configuration and calls Open, Run and Close;
// app never imports package main. It may import every package of the ledger and, under
// cmd/secretsledger, backup, boardtoken, config, console, database, directory, httpapi,
// instance, integritykey, metrics, placement and usage.
//
// Imports: cmd/secretsledger/internal/backup, cmd/secretsledger/internal/boardtoken,
// cmd/secretsledger/internal/config, cmd/secretsledger/internal/console,
// cmd/secretsledger/internal/database, cmd/secretsledger/internal/directory,
// cmd/secretsledger/internal/httpapi, cmd/secretsledger/internal/instance,
// cmd/secretsledger/internal/integritykey, cmd/secretsledger/internal/metrics,
// cmd/secretsledger/internal/placement, cmd/secretsledger/internal/usage, commands,
// eventstore, eventstore/actor, eventstore/checkpoint, eventstore/checkpoint/signer,
// eventstore/integrity, eventstore/lease, eventstore/ledgererr, eventstore/natsbus,
// migrations, projections, providers, providers/awssm, providers/localenc,
// providers/vaultkv, queries, queries/audit.
//
// Third-party: pgx, nats.
package app
