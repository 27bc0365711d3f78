// Package console is the operator console in the browser, served under /console/ by the
// same binary: server-rendered HTML (html/template, every asset embedded), built on the
// REST API, which it calls in-process for the signed-in board token. An operator signs
// in with a board token once; the console keeps only a session (an HttpOnly cookie whose
// hash, keyed with the instance's integrity key, is in console_sessions) that ends with
// the token. Every state-changing request
// carries the session's CSRF token. No page shows a secret value; an agent key is shown
// once, on the page that issues it. Only cmd/secretsledger imports it. It uses pgx
// for console_sessions and gorilla/mux.
//
// Imports: cmd/secretsledger/internal/httpapi, eventstore/actor, eventstore/integrity.
//
// Third-party: gorilla/mux, pgx, ulid.
package console
