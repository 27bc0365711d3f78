// Command secretsledger is the ledger's one binary: the server (serve), database
// maintenance (migrate, db url, replay, verify), health (doctor), local operator
// commands (tokens, secrets rekey, secrets migrate-inline-env) and API client verbs
// (secrets, bindings, agent-keys, vaults, consumers, access-events, events). It is the only
// place that wires packages together: configuration, logging, the database, the event
// store and the HTTP API. The command line is spf13/cobra: one constructor per
// command building an options struct from flags, RunE calling a plain run function
// over an injected environment (configuration and I/O streams).
//
// Imports: anything of ours.
//
// Third-party: age, cobra, nats, pgx, x/term.
package main
