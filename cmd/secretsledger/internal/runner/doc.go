// Package runner is `secretsledger run`: it resolves an agent's env through the API with
// the agent's key, then starts a command with the resolved entries in its environment,
// passes its streams and exit status through and forwards the signals run receives.
//
// The agent key authenticates the resolution and goes no further: it is removed from
// the child's environment (the variable that carried it and any other variable holding
// it), in both the inherited and the isolated mode. A required binding that fails stops
// the run before the command starts, so a command never runs half-configured. The
// manifest it writes on request names paths, secret keys, versions and outcomes, never
// a value.
//
// RunWatching (run --watch) follows the consumer's change feed while the command runs:
// after a change it resolves again and, when what the command received changed, restarts
// it or stops it (ExitChanged); a revoked key or a freeze stops it at once
// (ExitFailClosed), so it never runs on with values it may no longer have.
//
// Output filtering is a seam, Options.Wrap: the runner hands it the resolved values and
// the streams, and the child writes to what it returns. Package main wires it.
//
// Imports: cmd/secretsledger/internal/apiclient.
//
// Third-party: none.
package runner
