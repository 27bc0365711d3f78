// Package config reads the ledger's settings from the environment into one struct and
// validates them, reporting every problem at once. Only cmd/secretsledger imports it.
package config
