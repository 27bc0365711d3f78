// Package projections will fold the event log into the read models the API serves
// (company_secrets, company_secret_versions, …), one file per read model, with a runner
// that keeps a checkpoint per projection and can rebuild any of them from the log.
//
// It may import eventstore (to read events) and pgx (to write read models); never
// commands or queries. Nothing is implemented yet: the ledger core (issue 2) ships
// only the log.
package projections
