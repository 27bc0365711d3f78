package commands

import "github.com/secretsledger/secretsledger/eventstore/events"

// Folds describes what each aggregate fold of the write side does with the event types
// of its stream: its exhaustiveness test and the catalogue in docs/events.md read it.
func Folds() []events.Reader {
	return []events.Reader{secretFold.Reader(), consumerFold.Reader(), agentKeyFold.Reader(), companyFold.Reader(),
		policyFold.Reader(), vaultsFold.Reader()}
}
