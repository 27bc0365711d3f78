// Package console is the operator console in the browser, served under /console/ by the
// same binary: server-rendered HTML (html/template, every asset embedded), built on the
// REST API, which it calls in-process for the signed-in board token through the typed
// client internal/apiclient over apiclient.HandlerTransport; the pages render its typed
// answers. An operator signs in with a board token once; the console keeps only a
// session (an HttpOnly cookie whose hash, keyed with the instance's integrity key, is in
// console_sessions) that ends with the token. Every state-changing request carries the
// session's CSRF token. No page shows a secret value; an agent key is shown once, on the
// page that issues it. Only cmd/secretsledger imports it.
//
// Imports: cmd/secretsledger/internal/apiclient, cmd/secretsledger/internal/httpapi,
// eventstore/actor, eventstore/events, eventstore/integrity, providers.
//
// Third-party: gorilla/mux, pgx, ulid.
package console
