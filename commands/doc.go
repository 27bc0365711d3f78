// Package commands will hold one file per command (create, rotate, bind, …): each loads
// its aggregate's stream, folds it, calls a pure decide() that returns new events or a
// typed ledgererr, and appends with the expected version.
//
// It may import eventstore and providers; never queries. Nothing is implemented yet.
package commands
