// Package loadtest drives a running ledger over its HTTP API for `secretsledger bench`:
// it sets up its own company, secrets, bindings and agent key, runs a scenario with N
// concurrent clients, measures latencies, projection lag and (with NATS) commit-to-
// subscriber latency, and tears its fixtures down. Only cmd/secretsledger imports it.
// It calls the API through internal/apiclient (the one typed client; the resolutions
// through package agent, the client of the runtime routes) and follows
// events through eventstore/natsbus; the raw-insert scenario writes to the database
// with pgx.
//
// Imports: agent, cmd/secretsledger/internal/apiclient, eventstore/natsbus.
//
// Third-party: pgx.
package loadtest
