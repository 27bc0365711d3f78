package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/progress"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (unhealthy, database error, …)
	exitUsage   = 2 // bad flags, bad configuration, missing prerequisites: fix and retry
)

// environment is what every command gets: configuration, the I/O streams (injected, so
// that tests see exactly what a terminal or a pipe would) and a logger.
type environment struct {
	cfg config.Config
	// settings says where each setting came from (default, config.json, environment).
	settings *config.Layered
	// getenv reads a setting: the environment, else the instance's config.json.
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// stdinTTY, stdoutTTY and stderrTTY say whether the stream is a terminal: prompts,
	// table output by default, and progress lines are for people, never for pipes.
	stdinTTY, stdoutTTY, stderrTTY bool
	// readSecret reads a line from the terminal on stdin without echo.
	readSecret func() ([]byte, error)
	// started is set once the command line is parsed and a command runs: an error
	// before that is a usage error.
	started bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := newEnvironment(os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	env.stdinTTY = term.IsTerminal(int(os.Stdin.Fd()))
	env.stdoutTTY = term.IsTerminal(int(os.Stdout.Fd()))
	env.stderrTTY = term.IsTerminal(int(os.Stderr.Fd()))
	env.readSecret = func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) }
	code := run(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// newEnvironment reads the configuration and builds the logger; the streams are not
// terminals until the caller says so.
func newEnvironment(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *environment {
	// The instance's config.json under the process environment: every reader of a
	// setting goes through the layered lookup.
	settings := config.Layer(getenv)
	cfg := config.FromLayered(settings)
	return &environment{
		cfg:      cfg,
		settings: settings,
		getenv:   settings.Getenv,
		stdin:    stdin,
		stdout:   stdout,
		stderr:   stderr,
		log:      slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})),
		readSecret: func() ([]byte, error) {
			return nil, errors.New("stdin is not a terminal")
		},
	}
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, env *environment, args []string) int {
	root := newRootCmd(env)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errShownHelp) {
		return exitUsage
	}
	var passed exitWith
	if errors.As(err, &passed) {
		return int(passed)
	}
	fmt.Fprintf(env.stderr, "%s: %v\n", cmd.CommandPath(), err)
	code := exitCode(err)
	if !env.started {
		// Cobra refused the command line before the command ran: unknown flag or
		// verb, missing required flag, wrong number of arguments.
		code = exitUsage
	}
	if !env.started {
		fmt.Fprintf(env.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// errShownHelp is the usage error of a group called without a verb: its help is the
// message.
var errShownHelp = usage.Error{Err: errors.New("a verb is required")}

func exitCode(err error) int {
	var fix usage.Error
	var nf *pgembed.NotFoundError
	var nw *instance.NotWritableError
	var pu *pgembed.PortInUseError
	if errors.As(err, &fix) || errors.As(err, &nf) || errors.As(err, &nw) || errors.As(err, &pu) {
		return exitUsage
	}
	return exitFailure
}

// prepareDatabase validates the configuration, prepares the instance directory and
// checks that the embedded mode has PostgreSQL binaries.
func (env *environment) prepareDatabase() (instance.Dir, error) {
	return database.Prepare(env.cfg)
}

// progressOut is where progress lines go: stderr when it is a terminal, else nowhere.
func (env *environment) progressOut() io.Writer {
	if env.stderrTTY {
		return env.stderr
	}
	return nil
}

// progress starts a progress line (see progressOut); total 0 shows the time elapsed.
func (env *environment) progress(label string, total int64) *progress.Line {
	return progress.Start(env.progressOut(), label, total)
}

// quietDatabase keeps the starting and stopping of an embedded database out of the
// output of a command whose output is its report (doctor, verify): only errors are
// logged, unless LEDGER_LOG_LEVEL=debug asks for everything.
func (env *environment) quietDatabase() {
	if env.cfg.LogLevel > slog.LevelDebug {
		env.log = slog.New(slog.NewJSONHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
}
