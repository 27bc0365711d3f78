package main

import (
	"context"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
)

// appOptions are the application's options from env: its configuration, logger and
// settings lookup.
func (env *environment) appOptions() app.Options {
	return app.Options{Config: env.cfg, Log: env.log, Getenv: env.getenv, Version: versionString()}
}

// withLedger opens the ledger for a one-shot operator command (no pending migrations
// applied; the pool connects as the owner), runs fn, and closes it.
func withLedger(ctx context.Context, env *environment, fn func(*app.App) error) error {
	opts := env.appOptions()
	opts.Owner = true
	a, err := app.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}
