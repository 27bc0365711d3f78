// Package httpapi is the ledger's HTTP surface (gorilla/mux): /healthz, /readyz,
// /metrics, the OpenAPI document and the /api routes. Handlers only parse, call one
// handler, and write; errors go out as {"error": "…", "details": {"code": "…"}} with
// only the safe message of a ledgererr.Error. Every request gets a request id
// (X-Request-Id), one log line and, through RequestObserver, a metrics observation; a
// panic becomes a 500.
//
// The /api routes are served by one handler per resource (Secrets, RemoteImport,
// Providers, Consumers, AccessEvents, AgentKeys, Resolution, Incidents, Policies,
// Vaults, Events, Audit, Ledger), each in its own file, with its own routes and only
// the dependencies it uses, declared here as small interfaces. API puts them together;
// authentication (board tokens, agent keys, OnBehalfOf), input checks, paging and the
// building of command requests are shared by all of them, and so is the replay of a
// command's first answer to a retry with its Idempotency-Key (replay.go: kept sealed
// through Answers, given again before the handler runs, on the routes whose document
// offers the header). Only cmd/secretsledger imports it.
//
// Imports: commands, docs, eventstore, eventstore/actor, eventstore/events,
// eventstore/ledgererr, eventstore/natsbus, providers, providers/redact, queries,
// queries/audit.
//
// Third-party: gorilla/mux, kin-openapi, pgx, ulid.
package httpapi
