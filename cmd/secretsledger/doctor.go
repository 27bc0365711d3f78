package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/doctor"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

func newDoctorCmd(env *environment) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "check the configuration, the instance directory, the database, migrations, the runtime role and the master key",
		Long: "Check the configuration, the instance directory, the database, migrations, the runtime role and the master " +
			"key. Exit 1 when unhealthy, 2 when the configuration is invalid.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runDoctor(c.Context(), env)
		},
	}
}

// runDoctor prints a line per finding as the checks make it, then the settings.
func runDoctor(ctx context.Context, env *environment) error {
	env.quietDatabase()
	failed := false
	badConfig := doctor.Run(ctx, doctor.Inputs{Config: env.cfg, Getenv: env.getenv, Log: env.log}, func(f instance.Finding) {
		tag := "ok  "
		switch {
		case !f.OK:
			tag, failed = "FAIL", true
		case f.Warning:
			tag = "WARN"
		}
		fmt.Fprintf(env.stdout, "%s %s\n", tag, f.Message)
	})
	fmt.Fprintln(env.stdout)
	printSettings(env.stdout, env.settings)
	if badConfig {
		return errBadConfig
	}
	if failed {
		return errUnhealthy
	}
	return nil
}

var (
	errUnhealthy = errors.New("unhealthy: see the FAIL lines above")
	errBadConfig = usage.Error{Err: errors.New("invalid configuration or a missing prerequisite: see the FAIL line above")}
)
