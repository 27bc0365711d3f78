package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/agent"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/runner"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// exitWith is the exit status of a command run passed through: main exits with it and
// prints nothing, the child having said what it had to say.
type exitWith int

func (e exitWith) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

type runOptions struct {
	paths                  []string
	runID, issueID         string
	isolated, redact       bool
	grace                  time.Duration
	manifest, agentKeyFile string
	envFile                string
	watch                  bool
	debounce               time.Duration
	onChange               string
}

func newRunCmd(env *environment) *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "run [--path P]… [--run-id ID] [--issue-id ID] [--isolated] [--redact] [--manifest FILE] [--agent-key-file FILE] [--grace D] [--env-file FILE] [--watch [--debounce D] [--on-change restart|exit|signal:NAME]] -- COMMAND [ARGS…]",
		Short: "resolve the agent's env with its agent key and run COMMAND with it",
		Long: "run resolves the env of the agent key's consumer (every binding and plain entry, or the --path ones) and starts " +
			"COMMAND with the resolved entries added to its environment (--isolated: only those, plus PATH, HOME, LANG, TERM and TZ). " +
			"The agent key comes from LEDGER_AGENT_KEY or --agent-key-file, never from the command line, and never reaches COMMAND. " +
			"stdin, stdout, stderr and the exit status pass through; INT, TERM, HUP and QUIT are forwarded, and a child still " +
			"running --grace after a TERM or INT is killed.\n\n" +
			"Exit codes: COMMAND's own (128+n when signal n ended it); 1 when the resolution fails and COMMAND was not started; " +
			"2 bad usage.\n\n" +
			"--env-file FILE writes the resolved entries to FILE (mode 0600, atomically; one KEY='value' line each, shell-quoted) " +
			"before COMMAND starts.\n\n" +
			"--watch follows the consumer's change feed while COMMAND runs; after a change it resolves again (at once after a quiet " +
			"period, then at most once per --debounce) and, when what COMMAND received changed: --on-change restart (default) " +
			"restarts COMMAND with the new env (TERM, --grace, kill, start); exit stops it and exits 75; signal:NAME (HUP, USR1, …; " +
			"needs --env-file) rewrites the env file and sends COMMAND the signal, the same process reloading it. A revoked key or a " +
			"frozen company or consumer, or a failed resolution after a change, stops COMMAND at once and exits 77.\n\n" +
			"--redact masks the values in COMMAND's output; the manifest then says per entry whether its value is masked " +
			"(\"masked\": false, \"maskSkippedReason\" when shorter than 8 bytes).\n\n" +
			"LEDGER_URL (default http://$LEDGER_HTTP_ADDR) chooses the server; SSL_CERT_FILE names the CA bundle to trust.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runRun(c.Context(), env, o, args)
		},
	}
	c.Flags().SetInterspersed(false) // COMMAND's own flags are its, not run's
	c.Flags().StringArrayVar(&o.paths, "path", nil, "resolve this config path only (repeatable; default: every binding and plain entry); each must resolve")
	c.Flags().StringVar(&o.runID, "run-id", "", "the run the resolution is for, in the access record")
	c.Flags().StringVar(&o.issueID, "issue-id", "", "the issue the resolution is for, in the access record")
	c.Flags().BoolVar(&o.isolated, "isolated", false, "give COMMAND only the resolved entries and PATH, HOME, LANG, TERM, TZ")
	c.Flags().DurationVar(&o.grace, "grace", runner.DefaultGrace, "how long COMMAND has to exit after a forwarded TERM or INT before it is killed")
	c.Flags().StringVar(&o.manifest, "manifest", "", "write the resolution manifest (paths, secret keys, versions, outcomes, with --redact whether each value is masked; no values) to FILE, mode 0600")
	c.Flags().BoolVar(&o.redact, "redact", false, "mask every resolved value (and its base64, URL, JSON and hex forms) in COMMAND's stdout and stderr as [REDACTED:key]")
	c.Flags().BoolVar(&o.watch, "watch", false, "keep COMMAND's env current: follow the change feed, resolve again after a change, and act (--on-change) when it changed")
	c.Flags().DurationVar(&o.debounce, "debounce", runner.DefaultDebounce, "with --watch: the least time between two resolutions after changes; a change after a quiet period is acted on at once, those within D of the last are gathered")
	c.Flags().StringVar(&o.onChange, "on-change", runner.OnChangeRestart, "with --watch: restart COMMAND, exit (75), or signal:NAME (write --env-file and send COMMAND signal NAME) when its resolution changed")
	c.Flags().StringVar(&o.envFile, "env-file", "", "write the resolved entries to FILE (mode 0600, atomically, KEY='value' lines) before COMMAND starts and after each change; needed by --on-change signal:NAME")
	c.Flags().StringVar(&o.agentKeyFile, "agent-key-file", "", "read the agent key from FILE (default: $"+runner.AgentKeyVar+")")
	return c
}

func runRun(ctx context.Context, env *environment, o runOptions, command []string) error {
	key, err := agentKey(env, o.agentKeyFile)
	if err != nil {
		return err
	}
	if o.grace <= 0 {
		return usage.Error{Err: errors.New("--grace must be positive")}
	}
	action, sig, err := checkWatchFlags(o)
	if err != nil {
		return err
	}
	sigs, stop := runner.Notify()
	defer stop()
	resolveCtx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	ro := runner.Options{
		Command: command, Paths: o.paths, RunID: o.runID, IssueID: o.issueID, Isolated: o.isolated, Grace: o.grace,
		Manifest: o.manifest, AgentKey: key, Environ: os.Environ(), Redact: o.redact, EnvFile: o.envFile,
		Stdin: env.stdin, Stdout: env.stdout, Stderr: env.stderr, Signals: sigs,
	}
	api := agent.New(serverURL(env), key, nil)
	var code int
	if o.watch {
		code, err = runner.RunWatching(ctx, api, ro, runner.Watch{Debounce: o.debounce, OnChange: action, Signal: sig})
	} else {
		code, err = runner.Run(resolveCtx, api, ro)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return exitWith(code)
	}
	return nil
}

// checkWatchFlags refuses --debounce and --on-change values that make no sense, and
// either without --watch; it returns --on-change's action and signal.
func checkWatchFlags(o runOptions) (string, syscall.Signal, error) {
	if !o.watch && (o.debounce != runner.DefaultDebounce || o.onChange != runner.OnChangeRestart) {
		return "", 0, usage.Error{Err: errors.New("--debounce and --on-change go with --watch")}
	}
	if o.debounce < 0 {
		return "", 0, usage.Error{Err: errors.New("--debounce must not be negative")}
	}
	action, sig, err := runner.ParseOnChange(o.onChange)
	if err != nil {
		return "", 0, usage.Error{Err: err}
	}
	if action == runner.OnChangeSignal && o.envFile == "" {
		return "", 0, usage.Error{Err: errors.New("--on-change " + o.onChange + " needs --env-file FILE: the new values reach COMMAND through it")}
	}
	return action, sig, nil
}

// agentKey is the key --agent-key-file names, else LEDGER_AGENT_KEY's. Never a flag's
// value: a command line is visible to every user of the machine.
func agentKey(env *environment, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usage.Error{Err: fmt.Errorf("read the agent key: %w", err)}
		}
		if key := strings.TrimSpace(string(b)); key != "" {
			return key, nil
		}
		return "", usage.Error{Err: fmt.Errorf("the agent key file %s is empty", file)}
	}
	if key := strings.TrimSpace(env.getenv(runner.AgentKeyVar)); key != "" {
		return key, nil
	}
	return "", usage.Error{Err: errors.New("no agent key: set " + runner.AgentKeyVar + " or pass --agent-key-file FILE")}
}
