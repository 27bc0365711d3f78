// Package config reads the ledger's settings from the environment into one struct and
// validates them, reporting every problem at once. It checks external reference
// prefixes by the commands' own rule; only cmd/secretsledger imports it.
//
// Imports: commands, eventstore/ledgererr, providers/vaultkv.
//
// Third-party: pgx.
package config
