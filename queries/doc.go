// Package queries will hold the read-model queries used by the API and the CLI.
//
// It may import pgx and ledgererr; never commands. Nothing is implemented yet.
package queries
