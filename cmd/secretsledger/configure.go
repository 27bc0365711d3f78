package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// configureOptions are configure's flags: a section, and one flag per setting.
type configureOptions struct {
	section string
	values  map[string]*string // by environment variable
}

func newConfigureCmd(env *environment) *cobra.Command {
	o := configureOptions{values: map[string]*string{}}
	c := &cobra.Command{
		Use:   "configure [--section server|database|secrets] [--SETTING VALUE]...",
		Short: "write the instance's config.json: asks on a terminal, or takes the settings as flags",
		Long: "Write the instance's config.json (<instance>/config.json, 0600), which environment variables override.\n" +
			"With setting flags it writes those and asks nothing; without, on a terminal, it asks every setting of the\n" +
			"section (Enter keeps the current value, '-' removes it). The result is validated before it is written.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			set := map[string]string{}
			for _, s := range config.FileSettings {
				if c.Flags().Changed(s.Flag) {
					set[s.Env] = *o.values[s.Env]
				}
			}
			return runConfigure(env, o.section, set)
		},
	}
	c.Flags().StringVar(&o.section, "section", "", "server, database or secrets (default: all)")
	_ = c.RegisterFlagCompletionFunc("section", cobra.FixedCompletions(config.Sections, cobra.ShellCompDirectiveNoFileComp))
	for _, s := range config.FileSettings {
		o.values[s.Env] = c.Flags().String(s.Flag, "", s.Prompt+" ("+s.Env+"; empty removes it)")
	}
	return c
}

func runConfigure(env *environment, section string, set map[string]string) error {
	if section != "" && !slices.Contains(config.Sections, section) {
		return usage.Error{Err: fmt.Errorf("--section must be one of %s, not %q", strings.Join(config.Sections, ", "), section)}
	}
	path := config.FilePath(env.getenv)
	current, err := config.ReadFile(path)
	if err != nil {
		return usage.Error{Err: err}
	}
	if len(set) == 0 {
		if !env.stdinTTY {
			return usage.Error{Err: errors.New("nothing to set: give settings as flags (see --help), or run on a terminal to be asked")}
		}
		if set, err = askSettings(env.stdin, env.stderr, section, current); err != nil {
			return err
		}
	}
	for _, s := range config.FileSettings {
		if _, ok := set[s.Env]; ok && section != "" && s.Section != section {
			return usage.Error{Err: fmt.Errorf("--%s belongs to the %s section, not %s", s.Flag, s.Section, section)}
		}
	}
	// The file alone must make a valid configuration; the environment may still
	// override it.
	next := map[string]string{}
	for k, v := range current {
		next[k] = v
	}
	for k, v := range set {
		next[k] = v
	}
	fileOnly := func(name string) string {
		switch name {
		case "LEDGER_HOME", "LEDGER_INSTANCE", "HOME", "VAULT_TOKEN": // VAULT_TOKEN is never in the file
			return env.getenv(name)
		}
		return next[name]
	}
	if err := config.FromEnv(fileOnly).Validate(); err != nil {
		return usage.Error{Err: fmt.Errorf("not written, the settings are invalid:\n%w", err)}
	}
	if err := config.WriteFile(path, set); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s\n", path)
	for _, s := range config.FileSettings {
		if v, ok := set[s.Env]; ok {
			if v == "" {
				v = "(removed)"
			}
			fmt.Fprintf(env.stdout, "  %s.%s = %s\n", s.Section, s.Key, config.Redact(s.Env, v))
		}
	}
	return nil
}

// askSettings asks every setting of section (all sections when empty) on the terminal.
func askSettings(in io.Reader, out io.Writer, section string, current map[string]string) (map[string]string, error) {
	set := map[string]string{}
	lines := bufio.NewScanner(in)
	for _, s := range config.FileSettings {
		if section != "" && s.Section != section {
			continue
		}
		cur := current[s.Env]
		fmt.Fprintf(out, "%s [%s]: ", s.Prompt, config.Redact(s.Env, cur))
		if !lines.Scan() {
			if err := lines.Err(); err != nil {
				return nil, err
			}
			return nil, usage.Error{Err: errors.New("input ended before every setting was answered; nothing written")}
		}
		switch answer := strings.TrimSpace(lines.Text()); answer {
		case "":
		case "-":
			if cur != "" {
				set[s.Env] = ""
			}
		default:
			set[s.Env] = answer
		}
	}
	return set, nil
}

// printSettings lists every effective setting and where it came from.
func printSettings(w io.Writer, l *config.Layered) {
	fmt.Fprintf(w, "Effective settings (environment over %s over defaults):\n", l.Path)
	for _, s := range l.Effective() {
		fmt.Fprintf(w, "  %-42s %-8s %s\n", s.Name, s.Origin, s.Value)
	}
}
