package main

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// newRootCmd is the whole command tree. Commands are built per run, over env, so that
// tests run them with their own streams.
func newRootCmd(env *environment) *cobra.Command {
	root := &cobra.Command{
		Use:   "secretsledger",
		Short: "an event-sourced secrets ledger for AI-agent companies",
		Long: "secretsledger: an event-sourced secrets ledger for AI-agent companies.\n\n" +
			"Exit codes: 0 success, 1 failure at run time, 2 bad flags, bad configuration or a missing prerequisite.",
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRun(env),
	}
	root.SetVersionTemplate(fmt.Sprintf("secretsledger {{.Version}} (%s, %s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH))
	root.SetIn(env.stdin)
	root.SetOut(env.stdout)
	root.SetErr(env.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage.Error{Err: err} })
	root.SetUsageTemplate(root.UsageTemplate() + environmentHelp())
	root.AddCommand(
		newServeCmd(env),
		newMigrateCmd(env),
		newConfigureCmd(env),
		newDBCmd(env),
		newDoctorCmd(env),
		newVersionCmd(env),
		newTokensCmd(env),
		newReplayCmd(env),
		newVerifyCmd(env),
		newCheckpointCmd(env),
		newSecretsCmd(env),
		newBindingsCmd(env),
		newAgentKeysCmd(env),
		newRunCmd(env),
		newFreezeCmd(env),
		newUnfreezeCmd(env),
		newScanCmd(env),
		newVaultsCmd(env),
		newExternalPolicyCmd(env),
		newConsumersCmd(env),
		newAccessEventsCmd(env),
		newEventsCmd(env),
		newAuditCmd(env),
		newBenchCmd(env),
	)
	// Every Use line spells out its flags. Cobra checks flags and arguments before RunE:
	// an error before it is a usage error (exit 2).
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		if runE := c.RunE; runE != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				env.started = true
				return runE(c, args)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return root
}

// environmentHelp lists the configuration variables under the root's help only.
func environmentHelp() string {
	var b strings.Builder
	b.WriteString("{{if not .HasParent}}\nEnvironment:\n")
	for _, v := range config.Vars {
		fmt.Fprintf(&b, "  %-24s %s (default %s)\n", v.Name, v.Meaning, v.Default)
	}
	b.WriteString("{{end}}")
	return b.String()
}

// newGroup is a command that only holds verbs.
func newGroup(env *environment, use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: groupRun(env)}
}

// groupRun answers a group called without a verb with its help on stderr (exit 2), and
// a mistyped verb with the nearest ones.
func groupRun(env *environment) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			c.SetOut(env.stderr)
			_ = c.Help()
			return errShownHelp
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		c.SuggestionsMinimumDistance = 2
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?"
			for _, name := range s {
				msg += "\n\t" + c.CommandPath() + " " + name
			}
		}
		msg += fmt.Sprintf("\nRun '%s --help' for usage.", c.CommandPath())
		return usage.Error{Err: errors.New(msg)}
	}
}

// addCompanyFlag is the one company flag of every verb that works on a company.
func addCompanyFlag(c *cobra.Command, company *string) {
	c.Flags().StringVarP(company, "company", "C", "", "company id (UUID)")
}

// needCompany checks the company flag as a usage error (exit 2).
func needCompany(company string) error {
	if company == "" {
		return usage.Error{Err: errors.New("--company (-C) is required")}
	}
	return nil
}

// Output formats of read verbs.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// addOutputFlag is --output of every read verb.
func addOutputFlag(c *cobra.Command, output *string) {
	c.Flags().StringVarP(output, "output", "o", "", "table or json (default: table on a terminal, json otherwise)")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outputTable, outputJSON}, cobra.ShellCompDirectiveNoFileComp))
}

// outputFormat resolves --output: people at a terminal get a table, scripts JSON.
func (env *environment) outputFormat(output string) (string, error) {
	switch output {
	case "":
		if env.stdoutTTY {
			return outputTable, nil
		}
		return outputJSON, nil
	case outputTable, outputJSON:
		return output, nil
	}
	return "", usage.Error{Err: fmt.Errorf("--output must be table or json, not %q", output)}
}

// exactArgs is cobra's check of the positional arguments: exactly the named ones
// (none when no name is given), each named in the usage error.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usage.Error{Err: fmt.Errorf("want %d argument(s): %s", len(names), strings.Join(names, " "))}
		}
		return nil
	}
}
