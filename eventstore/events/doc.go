// Package events is the registry of event types and their payloads: the persisted,
// versioned JSON of ledger_events.payload. Each type has one entry (registry.go) with
// its name, its stream (the prefix constants and the functions that name streams are in
// streams.go), its schema versions and a golden sample of each; New, Decode (with the
// upcasts of old versions), the golden files in testdata and the catalogue in
// docs/events.md are all drawn from it. A change of shape is a new schema version with
// an upcaster, never an edit.
//
// Dispatch is the table of a fold or projection: a handler per event type it reads and
// the types it ignores on purpose, so that each reader's test can check that it decided
// on every registered type of the streams it reads (Reader.Unhandled).
//
// Imports: eventstore.
//
// Third-party: none.
package events
