// Command subscriber is an example runtime that follows one company's ledger events over
// NATS with the credentials from POST /api/companies/{companyId}/event-subscribers, saved
// as JSON in the file named by its first argument. It prints each event and, for a
// rotation, the secret and its new version: the moment to re-resolve values.
//
//	go run ./docs/examples/subscriber creds.json
//
// It reaches NATS only through natsbus.Follow, as a runtime would.
//
// Imports: eventstore/events, eventstore/natsbus.
//
// Third-party: none.
package main
