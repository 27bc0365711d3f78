package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
)

// serveOptions are serve's flags.
type serveOptions struct {
	migrate bool
}

func newServeCmd(env *environment) *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve [--migrate]",
		Short: "run the ledger server (HTTP API on LEDGER_HTTP_ADDR)",
		Long: "Run the ledger server: the HTTP API on LEDGER_HTTP_ADDR, the embedded NATS bus and, unless DATABASE_URL " +
			"is set, the embedded PostgreSQL. Exit 2 when the configuration, the listeners or the master key are wrong.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runServe(c.Context(), env, o)
		},
	}
	c.Flags().BoolVar(&o.migrate, "migrate", false, "apply pending migrations before serving (an empty database is always migrated)")
	defaultHelp := c.HelpFunc()
	c.SetHelpFunc(func(c *cobra.Command, args []string) {
		defaultHelp(c, args)
		fmt.Fprintln(c.OutOrStdout())
		printSettings(c.OutOrStdout(), env.settings)
	})
	return c
}

// runServe runs the server until ctx ends.
func runServe(ctx context.Context, env *environment, o serveOptions) error {
	opts := env.appOptions()
	opts.Serve, opts.Migrate = true, o.migrate
	a, err := app.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}
