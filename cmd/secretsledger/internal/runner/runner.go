package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/agent"
)

// DefaultGrace is how long a child has to exit after a forwarded TERM or INT.
const DefaultGrace = 10 * time.Second

// Secret is one value of the resolution: its config path, env name, the key of the
// secret it came from ("" for a plain env entry) and the value. What an output filter
// needs to recognise it and say which it hid (agent.Secret.MaskKey).
type Secret = agent.Secret

// WrapFunc is the output-filter seam: given the values the child receives and run's own
// stdout and stderr, it returns the writers the child writes to, and a function that
// flushes and closes them once the child has exited (before run exits). An error stops
// the run before the child starts.
type WrapFunc func(secrets []Secret, stdout, stderr io.Writer) (childStdout, childStderr io.Writer, done func() error, err error)

// Options are one run.
type Options struct {
	// Command is the program and its arguments.
	Command []string
	// Paths asks for these config paths only; empty: every binding and plain entry.
	Paths []string
	// RunID and IssueID go with the resolution into the access record.
	RunID, IssueID string
	// Isolated gives the child only the resolved entries and isolatedKeep.
	Isolated bool
	// Grace is how long a child has after a forwarded TERM or INT before it is killed.
	Grace time.Duration
	// Manifest is the file the resolution manifest is written to; "": none.
	Manifest string
	// AgentKey is the credential the resolution was made with, to keep it out of the
	// child's environment.
	AgentKey string
	// Environ is run's own environment (os.Environ()).
	Environ []string
	// Stdin, Stdout and Stderr are the child's streams; an *os.File is handed over as
	// it is, so the child sees the terminal run sees.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Redact masks every value of the resolution in the child's stdout and stderr (Wrap,
	// unless one is given) and has the manifest say per entry whether its value is masked.
	Redact bool
	// Wrap, when set, filters the child's stdout and stderr.
	Wrap WrapFunc
	// EnvFile is a file the resolved env is written to before the child starts, and again
	// before it is told of a change (see WriteEnvFile); "": none.
	EnvFile string
	// Signals delivers the signals to forward; nil: none are (see Notify).
	Signals <-chan os.Signal
}

// ResolutionError is a resolution that failed for one or more paths: the command was not
// started. It names paths and outcome codes, never a value.
type ResolutionError struct{ Failed []string }

func (e *ResolutionError) Error() string {
	return "resolution failed, the command was not started: " + strings.Join(e.Failed, "; ")
}

// Run resolves the consumer's env with api (an agent-key client), then starts the
// command and waits for it. It returns the child's exit status (128+n when a signal n
// ended it). An error means the command did not start, or that its output could not
// be passed on to the end (a failing Wrap writer).
func Run(ctx context.Context, api *agent.Client, o Options) (int, error) {
	if len(o.Command) == 0 {
		return 0, errors.New("no command to run")
	}
	res, err := api.Resolve(ctx, agent.ResolveRequest{ConfigPaths: o.Paths, RunID: o.RunID, IssueID: o.IssueID})
	if err != nil {
		var apiErr *agent.Error
		if errors.As(err, &apiErr) {
			return 0, fmt.Errorf("the command was not started: %w", err)
		}
		return 0, err
	}
	if o.Manifest != "" {
		if err := writeManifest(o.Manifest, newManifest(o, res)); err != nil {
			return 0, err
		}
	}
	if failed := failures(o.Paths, res.Manifest); len(failed) > 0 {
		return 0, &ResolutionError{Failed: failed}
	}
	if o.EnvFile != "" {
		if err := WriteEnvFile(o.EnvFile, res.Env, o.AgentKey); err != nil {
			return 0, err
		}
	}
	return start(o, res)
}

// failures are the paths that must have resolved and did not: every path asked for by
// name (the caller said it needs them), every required binding, and any asked path the
// answer does not mention.
func failures(asked []string, manifest []agent.ManifestEntry) []string {
	var failed []string
	seen := map[string]bool{}
	want := map[string]bool{}
	for _, p := range asked {
		want[p] = true
	}
	for _, e := range manifest {
		seen[e.ConfigPath] = true
		if e.Outcome == agent.OutcomeResolved || !(e.Required || want[e.ConfigPath]) {
			continue
		}
		f := e.ConfigPath + ": " + e.Outcome
		if e.ProviderCode != "" {
			f += " (" + e.ProviderCode + ")"
		}
		failed = append(failed, f)
	}
	for _, p := range asked {
		if !seen[p] {
			failed = append(failed, p+": not in the answer")
		}
	}
	return failed
}

// wrap is the output filter: Wrap, else with Redact the redactor of the values.
func (o Options) wrap() WrapFunc {
	if o.Wrap == nil && o.Redact {
		return redactWrap
	}
	return o.Wrap
}

// start starts the command with the resolved env and waits for it, forwarding signals.
func start(o Options, res agent.Resolution) (int, error) {
	stdout, stderr, done := o.Stdout, o.Stderr, func() error { return nil }
	if wrap := o.wrap(); wrap != nil {
		var err error
		if stdout, stderr, done, err = wrap(agent.Secrets(res), o.Stdout, o.Stderr); err != nil {
			return 0, fmt.Errorf("the output filter: %w", err)
		}
	}
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Env = childEnv(o.Environ, res.Env, o.Isolated, o.AgentKey)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		_ = done()
		return 0, fmt.Errorf("start %s: %w", o.Command[0], err)
	}
	waitErr := wait(cmd, o.Signals, o.Grace)
	doneErr := done()
	code, err := exitStatus(cmd, waitErr)
	if err == nil && doneErr != nil {
		err = fmt.Errorf("the output filter: %w", doneErr)
	}
	return code, err
}
