// Package agent is the client of the routes an agent key is admitted to, for agent
// runtimes written in Go: Resolve (POST /api/runtime/resolve), Redact (POST
// /api/runtime/redact), one poll of the change feed (Changes, GET /api/runtime/changes)
// and Follow, which follows the feed from a position. `secretsledger run` is built on it.
//
// The agent key is given to New and sent as the bearer credential of every call; the
// package never reads it from the environment or a command line, and never puts it in an
// error. Errors are typed: *Error is an answer other than 2xx with the server's status,
// code and safe message (never a value), *ReachError a call that got no answer.
// Refused tells a refusal of the key (401: revoked or unknown; 403: the company or the
// consumer frozen) from everything else.
//
// Follow is the loop a runtime keeps running: it calls back for each answer with
// changes, and a transient failure (the server restarting, the network, a 5xx or 429)
// does not end it: it asks again from the position it had, which never goes backwards.
// A refused key ends it with the *Error. The feed says that something changed, never
// what a value became: the runtime resolves again to know.
//
// Secrets and Redactor turn a resolution into what a runtime masks in text it writes:
// each value under the secret's key (a plain env entry under its env name), for
// providers/redact.
//
// Its request and answer types mirror the schemas of docs/openapi.yaml; the contract test
// of cmd/secretsledger/internal/apiclient holds them, and the routes they are sent to, to
// the document.
//
// Imports: providers/redact.
//
// Third-party: none.
package agent
