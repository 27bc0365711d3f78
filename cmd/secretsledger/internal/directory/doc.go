// Package directory adapts the read models (queries) to the lookups the commands need
// across streams (commands.Directory): queries may not name the commands' types, so the
// conversion lives here, in the wiring.
//
// Imports: commands, queries.
//
// Third-party: none.
package directory
