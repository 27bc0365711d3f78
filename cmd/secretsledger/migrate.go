package main

import (
	"context"
	"fmt"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
)

func runMigrate(ctx context.Context, env *environment, args []string) error {
	if err := parse(flags(env, "migrate", migrateSummary), args); err != nil {
		return err
	}
	dir, err := env.prepareDatabase()
	if err != nil {
		return err
	}
	db, err := database.Open(ctx, env.cfg, dir, env.log)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	applied, err := db.Migrate(ctx)
	for _, m := range applied {
		fmt.Fprintf(env.stdout, "applied %s\n", m.Name)
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(env.stdout, "no pending migrations; the schema is current")
	}
	return nil
}
