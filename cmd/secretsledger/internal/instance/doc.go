// Package instance owns the layout of one ledger instance directory
// ($LEDGER_HOME/instances/<id>/: db/, secrets/, nats/, backups/) and its permission
// checks. Only cmd/secretsledger imports it.
//
// Imports: nothing of ours.
//
// Third-party: none.
package instance
