package main

import (
	"context"
	"fmt"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
)

func runDB(_ context.Context, env *environment, args []string) error {
	if err := parse(flags(env, "db url", dbSummary), args, "url"); err != nil {
		return err
	}
	if err := env.cfg.Validate(); err != nil {
		return usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	if !env.cfg.Embedded() {
		fmt.Fprintln(env.stdout, env.cfg.DatabaseURL)
		return nil
	}
	url, err := pgembed.URLOf(instance.Dir{Path: env.cfg.InstanceDir()}.DB(), "")
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, url)
	return nil
}
