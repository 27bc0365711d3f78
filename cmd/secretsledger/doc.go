// Command secretsledger is the ledger's one binary: the server (serve), database
// maintenance (migrate, db, replay, verify), health (doctor), local operator commands
// (tokens, secrets rekey, secrets migrate-inline-env, secrets export-key) and API client
// verbs (secrets, bindings, agent-keys, vaults, consumers, access-events, events, audit).
// Package main holds the CLI verbs only: the command line is spf13/cobra, one
// constructor per command building an options struct from flags, RunE calling a plain
// run function over an injected environment (configuration, logger and I/O streams)
// that parses, calls the package doing the work, and prints. The wiring of the running
// ledger (database, store, projections, commands, queries, bus, background roles,
// HTTP API) lives in internal/app, which serve opens and runs and the operator commands
// open; backups live in internal/backup.
//
// Imports: anything of ours.
//
// Third-party: cobra, x/term.
package main
