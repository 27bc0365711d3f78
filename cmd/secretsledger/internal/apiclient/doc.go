// Package apiclient is the one typed client of the ledger's HTTP API, used by the CLI's
// client verbs, the load generator and the browser console, but for the runtime routes
// an agent key is admitted to, whose one client is the public package agent; the
// contract test holds that package to the document too. Its request and answer types
// mirror the schemas of docs/openapi.yaml field for field, and its operations the
// document's paths: a test holds both to the document, so a client that drifts from
// the contract fails CI rather than a user.
//
// A Client talks to a server over HTTP, or to a handler in the same process through
// HandlerTransport (the console's way: the same routes, checks and audit as a remote
// client gets). Every call returns the decoded answer together with the body as the
// server wrote it, for tools that print answers verbatim.
//
// It imports the standard library only: callers take the ledger's shared constants
// (statuses, outcomes, providers) from commands and providers themselves. Its contract
// test reads the document through httpapi/openapitest.
//
// Imports: nothing of ours.
//
// Third-party: none.
package apiclient
