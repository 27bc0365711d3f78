// Package loadtest drives a running ledger over its HTTP API for `secretsledger bench`:
// it sets up its own company, secrets, bindings and agent key, runs a scenario with N
// concurrent clients, measures latencies, projection lag and (with NATS) commit-to-
// subscriber latency, and tears its fixtures down. Only cmd/secretsledger imports it.
// It uses pgx for the raw-insert yardstick.
//
// Imports: eventstore/natsbus.
//
// Third-party: pgx.
package loadtest
