package main

import (
	"context"
	"fmt"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// cliActor is who a command run from the shell acts as: an instance-wide operator,
// named by the local user in the log.
func cliActor() actor.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return actor.Actor{Type: actor.Board, ID: "cli:" + name}
}

type migrateInlineEnvOptions struct {
	company string
	apply   bool
}

func newMigrateInlineEnvCmd(env *environment) *cobra.Command {
	var o migrateInlineEnvOptions
	c := &cobra.Command{
		Use:   "migrate-inline-env --company ID [--apply]",
		Short: "move plain values under sensitive env keys into managed secrets (dry run unless --apply; local)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runMigrateInlineEnv(c.Context(), env, o)
		},
	}
	addCompanyFlag(c, &o.company)
	// The flag's old name, for scripts written before the one company flag.
	c.Flags().StringVar(&o.company, "company-id", "", "the company whose consumer envs to migrate")
	_ = c.Flags().MarkDeprecated("company-id", "use --company")
	c.Flags().BoolVar(&o.apply, "apply", false, "do it (default: print the plan and write nothing)")
	return c
}

func runMigrateInlineEnv(ctx context.Context, env *environment, o migrateInlineEnvOptions) error {
	if err := needCompany(o.company); err != nil {
		return err
	}
	apply := &o.apply
	return withLedger(ctx, env, func(l *app.App) error {
		stop, err := l.RunWriter(ctx)
		if err != nil {
			return err
		}
		defer stop()
		plan, err := l.Commands.Consumers.MigrateInlineEnv(ctx, commands.Request{Actor: cliActor()}, o.company, o.apply)
		verb := "would"
		if *apply {
			verb = "did"
		}
		for _, s := range plan {
			fmt.Fprintf(env.stdout, "%s %s secret %q from %s %s env %s\n", verb, s.Action, s.SecretName, s.TargetType, s.TargetID, s.Key)
		}
		if err != nil {
			return err
		}
		switch {
		case len(plan) == 0:
			fmt.Fprintln(env.stdout, "nothing to migrate: no plain values under sensitive keys")
		case !*apply:
			fmt.Fprintf(env.stdout, "%d value(s) to migrate; run again with --apply\n", len(plan))
		}
		return nil
	})
}
