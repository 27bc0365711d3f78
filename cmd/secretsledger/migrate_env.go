package main

import (
	"context"
	"fmt"
	"os/user"

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

func runMigrateInlineEnv(ctx context.Context, env *environment, args []string) error {
	fs := flags(env, "secrets migrate-inline-env --company-id ID [--apply]", migrateEnvSummary)
	company := fs.String("company-id", "", "the company whose consumer envs to migrate")
	apply := fs.Bool("apply", false, "do it (default: print the plan and write nothing)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *company == "" {
		return usageError{fmt.Errorf("--company-id is required")}
	}
	return withLedger(ctx, env, func(l *ledger) error {
		stop := l.runWriter(ctx)
		defer stop()
		plan, err := l.commands.MigrateInlineEnv(ctx, commands.Request{Actor: cliActor()}, *company, *apply)
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
