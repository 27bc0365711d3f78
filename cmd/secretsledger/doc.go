// Command secretsledger is the ledger's one binary: the server (serve), database
// maintenance (migrate, db url), health (doctor) and version. It is the only place
// that wires packages together: configuration, logging, the database, the event store
// and the HTTP API.
package main
