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
// It talks to the ledger through package agent, the one client of the runtime routes.
//
// RunWatching (run --watch) follows the consumer's change feed (agent.Follow) while the
// command runs: after a change it resolves again, at once after a quiet period and then
// at most once per Watch.Debounce (debouncer), and, when what the command received
// changed, restarts it, stops it (ExitChanged), or writes the env file and sends it a
// signal (--on-change signal:NAME, for a process that reloads); a revoked key or a freeze
// stops it at once (ExitFailClosed), so it never runs on with values it may no longer
// have.
//
// The env file (Options.EnvFile, WriteEnvFile) holds the resolved entries as KEY='value'
// lines, shell-quoted, written mode 0600 and atomically (a temporary file in the same
// directory, synced, renamed).
//
// Output filtering is a seam, Options.Wrap: the runner hands it the resolution's values
// and the streams, and the child writes to what it returns. Options.Redact uses
// providers/redact through agent.NewRedactor, and the manifest then says per entry whether
// its value is masked. Under signal:NAME a new filter is laid over the old one, so the
// same process's output stays masked of its old values and its new ones.
//
// Imports: agent, providers/redact.
//
// Third-party: none.
package runner
