package app

import (
	"log/slog"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
)

// Options are what the application is opened with: what the command line's environment
// supplies.
type Options struct {
	Config config.Config
	Log    *slog.Logger
	// Getenv reads a setting (the master key's variables, AWS credentials): the
	// environment, else the instance's config.json.
	Getenv func(string) string
	// Serve opens the app for Run (the serve command): the listeners, the bus, the
	// signer and the HTTP API; the integrity key is created on first start, and the
	// store, the resolutions and the providers' calls are measured. Without it (an
	// operator command) nothing is measured and a missing integrity key is no error
	// (see App.NoIntegrityKey).
	Serve bool
	// Owner connects the pool as the database owner instead of the runtime role, for
	// operator commands that need more (replay truncates read models, rekey locks data
	// keys, token revoke updates board tokens); they run where the instance directory,
	// and with it the owner's password, is anyway. serve never sets it.
	Owner bool
	// Migrate applies pending migrations at Open (serve --migrate); an empty database
	// is always migrated.
	Migrate bool
	// Version is the binary's version, logged when serving starts.
	Version string
}
