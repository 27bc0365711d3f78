package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/projections"
)

func newReplayCmd(env *environment) *cobra.Command {
	return &cobra.Command{
		Use:   "replay",
		Short: "rebuild every read model from the event log",
		Long: "Rebuilds every read model from the event log beside the live ones, while the server keeps " +
			"serving and appending, then swaps them in; appends wait only for the swap. A second replay " +
			"while one runs is refused.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runReplay(c.Context(), env)
		},
	}
}

func runReplay(ctx context.Context, env *environment) error {
	return withLedger(ctx, env, func(l *app.App) error {
		var total int64
		if err := l.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger_log`).Scan(&total); err != nil {
			return err
		}
		p := env.progress(fmt.Sprintf("rebuilding the read models from %d events", total), total)
		start := time.Now()
		var last int64
		res, err := projections.Rebuilder{Pool: l.Pool, Projections: projections.All(),
			AfterPage: func(_ context.Context, applied int64) error {
				p.Add(applied - last)
				last = applied
				return nil
			}}.Run(ctx)
		p.Done()
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "rebuilt the read models from %d events in %s; appends were blocked %s (the swap, which folded the %d events appended meanwhile)\n",
			res.Events, time.Since(start).Round(time.Millisecond), res.Blocked.Round(time.Microsecond), res.CaughtUp)
		return nil
	})
}
