package audit

import "github.com/secretsledger/secretsledger/eventstore/events"

// Folds describes what each fold of the audit answers does with the event types it
// reads: its exhaustiveness test and the catalogue in docs/events.md read it.
func Folds() []events.Reader {
	return []events.Reader{stateTable.Reader(), secretHistoryFold.Reader(), consumerReachTable.Reader()}
}
