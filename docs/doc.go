// Package docs holds the documents that ship inside the binary: the OpenAPI document of
// the HTTP API (openapi.yaml), which the server serves and its tests hold it to. It
// sits beside the Markdown documentation because go:embed only reaches files in the
// package's own directory and below.
//
// Imports: nothing of ours.
//
// Third-party: none.
package docs
