package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

func newDBCmd(env *environment) *cobra.Command {
	c := newGroup(env, "db", "database helpers")
	var owner bool
	url := &cobra.Command{
		Use:   "url [--owner]",
		Short: "print the runtime role's connection URL (--owner: the owner's), password included: for programs that read it from a file or the environment; for psql use db psql",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			return runDBURL(env, owner)
		},
	}
	url.Flags().BoolVar(&owner, "owner", false, "print the owner's URL (migrations, maintenance) instead of the runtime role's")
	var psqlOwner bool
	psql := &cobra.Command{
		Use:   "psql [--owner] [-- PSQL-ARGS...]",
		Short: "run psql as the runtime role (--owner: the owner), with the password in a passfile, never on a command line",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 && c.ArgsLenAtDash() != 0 {
				return usage.Error{Err: errors.New("psql's own arguments go after --")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return runDBPsql(c.Context(), env, psqlOwner, args)
		},
	}
	psql.Flags().BoolVar(&psqlOwner, "owner", false, "connect as the owner (migrations, maintenance) instead of the runtime role")
	c.AddCommand(url, psql)
	c.AddCommand(newBackupCmds(env)...)
	return c
}

func runDBURL(env *environment, owner bool) error {
	if err := env.cfg.Validate(); err != nil {
		return usage.Error{Err: fmt.Errorf("invalid configuration:\n%w", err)}
	}
	url, err := database.URL(env.cfg, owner)
	if err != nil {
		return err
	}
	if !env.cfg.Embedded() {
		url = database.LibpqURL(url)
	}
	fmt.Fprintln(env.stdout, url)
	return nil
}

// runDBPsql runs psql against the instance's database (starting the embedded one when
// serve does not run), with the terminal's streams; `psql "$(secretsledger db url)"`
// would put the password on psql's command line, where every local user reads it.
func runDBPsql(ctx context.Context, env *environment, owner bool, args []string) error {
	env.quietDatabase()
	dir, err := env.prepareDatabase()
	if err != nil {
		return err
	}
	db, err := database.Open(ctx, env.cfg, dir, env.log)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	tool, err := database.Tool(env.cfg, "psql")
	if err != nil {
		if tool, err = exec.LookPath("psql"); err != nil {
			return usage.Error{Err: errors.New("psql not found beside the PostgreSQL binaries nor on PATH; install the PostgreSQL client")}
		}
	}
	target := db.URL
	if owner {
		target = db.MigrationURL
	}
	cmd, err := database.NewClient(ctx, tool, target, args...)
	if err != nil {
		return err
	}
	defer cmd.Cleanup()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = env.stdin, env.stdout, env.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("psql: %w", err)
	}
	return nil
}
