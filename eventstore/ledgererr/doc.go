// Package ledgererr is the one error type of secretsledger: a code, a message that is
// safe to show a client, and the wrapped cause that is only ever logged.
//
// It sits at the centre (benbjohnson/wtf style): every other package may import it.
// Adapters (the event store, providers, HTTP) translate driver and SDK errors into it at
// their edge.
//
// Imports: nothing of ours.
//
// Third-party: none.
package ledgererr
