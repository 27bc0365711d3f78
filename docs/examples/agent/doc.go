// Command agent is an example agent runtime written in Go over package agent: it
// resolves its consumer's env with its agent key, prints the manifest (config paths,
// secret keys, versions, outcomes; never a value), writes a line of its own output through
// a redactor of the values, and follows the change feed, resolving again after each
// change, until the key is refused (revoked: 401, frozen: 403) or it is interrupted.
//
//	LEDGER_URL=http://127.0.0.1:8080 LEDGER_AGENT_KEY="$(cat key)" go run ./docs/examples/agent
//
// The key comes from the environment, never from the command line. A runtime that starts
// a process with the values would give them to it as `secretsledger run` does; this one
// only shows the calls.
//
// Imports: agent, providers/redact.
//
// Third-party: none.
package main
