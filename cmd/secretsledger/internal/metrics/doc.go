// Package metrics is the ledger's Prometheus instrumentation, at the edge: it
// implements the observer interfaces that eventstore, commands and httpapi declare
// (so that they never import Prometheus), decorates providers.Provider to time and
// count provider calls, and reads the NATS relay's status when scraped. Everything is
// registered on a registry of its own, with the Go runtime and process collectors.
//
// Labels are route templates and enums only (outcomes, kinds, provider ids,
// operations, methods, status codes), never an id, a name or a value.
//
// It uses prometheus/client_golang; only cmd/secretsledger imports it.
//
// Imports: commands, eventstore, eventstore/natsbus, providers.
//
// Third-party: prometheus.
package metrics
