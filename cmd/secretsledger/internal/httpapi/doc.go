// Package httpapi is the ledger's HTTP surface (gorilla/mux). Handlers only parse,
// call one handler, and write; errors go out as {"error": "…", "details": {"code": "…"}}
// with only the safe message of a ledgererr.Error. Every request gets a request id
// (X-Request-Id), one log line and, through RequestObserver, a metrics observation; a
// panic becomes a 500. Only cmd/secretsledger imports it. It uses gorilla/mux and
// kin-openapi (to serve the OpenAPI document).
//
// Imports: commands, docs, eventstore, eventstore/actor, eventstore/events,
// eventstore/ledgererr, eventstore/natsbus, providers, queries, queries/audit.
//
// Third-party: gorilla/mux, kin-openapi, pgx, ulid.
package httpapi
