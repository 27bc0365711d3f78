// Package events is the catalogue of event types and their payloads: the persisted,
// versioned JSON of ledger_events.payload. Commands encode them, projections decode
// them. Golden files in testdata pin every version's JSON; a change of shape is a new
// schema version with an upcaster, never an edit.
//
// It imports eventstore for EventData.
//
// Imports: eventstore.
//
// Third-party: none.
package events
