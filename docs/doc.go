// Package docs holds the documents that ship inside the binary: the OpenAPI document of
// the HTTP API (openapi.yaml), which the server serves and its tests hold it to. It
// sits beside the Markdown documentation because go:embed only reaches files in the
// package's own directory and below. Its tests hold the generated event catalogue in
// events.md to the event registry and the fold and projection tables, so they (not the
// package) import eventstore/events, commands, projections and queries/audit.
//
// Imports: nothing of ours.
//
// Third-party: none.
package docs
