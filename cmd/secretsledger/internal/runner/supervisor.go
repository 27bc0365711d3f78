package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/secretsledger/secretsledger/agent"
)

// child is one start of COMMAND.
type child struct {
	cmd         *exec.Cmd
	exited      chan error
	done        func() error
	out, errOut *swapWriter // nil without an output filter
}

// launch starts COMMAND with res's env, as start does.
func launch(o Options, res agent.Resolution) (*child, error) {
	c := &child{exited: make(chan error, 1), done: func() error { return nil }}
	var stdout, stderr io.Writer = o.Stdout, o.Stderr
	if wrap := o.wrap(); wrap != nil {
		out, errOut, done, err := wrap(agent.Secrets(res), o.Stdout, o.Stderr)
		if err != nil {
			return nil, fmt.Errorf("the output filter: %w", err)
		}
		c.out, c.errOut, c.done = &swapWriter{w: out}, &swapWriter{w: errOut}, done
		stdout, stderr = c.out, c.errOut
	}
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Env = childEnv(o.Environ, res.Env, o.Isolated, o.AgentKey)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		_ = c.done()
		return nil, fmt.Errorf("start %s: %w", o.Command[0], err)
	}
	c.cmd = cmd
	go func() { c.exited <- cmd.Wait() }()
	return c, nil
}

// rewrap lays a filter of res's values over the child's output (--on-change signal: the
// same process gets new values). The new layer writes into the old one, so the old values
// stay masked too, and a value's start held back by the old layer meets its end there.
func (c *child) rewrap(wrap WrapFunc, res agent.Resolution) error {
	if c.out == nil {
		return nil
	}
	out, errOut, done, err := wrap(agent.Secrets(res), c.out.target(), c.errOut.target())
	if err != nil {
		return fmt.Errorf("the output filter: %w", err)
	}
	c.out.set(out)
	c.errOut.set(errOut)
	under := c.done
	c.done = func() error { return errors.Join(done(), under()) } // the newest layer flushes first
	return nil
}

// swapWriter is the child's stdout or stderr when they are filtered: the filter under it
// can be replaced while the child writes.
type swapWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *swapWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *swapWriter) target() io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w
}

func (s *swapWriter) set(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = w
}

// status is the child's exit status once it exited with waitErr, its output flushed.
func (c *child) status(waitErr error) (int, error) {
	doneErr := c.done()
	code, err := exitStatus(c.cmd, waitErr)
	if err == nil && doneErr != nil {
		err = fmt.Errorf("the output filter: %w", doneErr)
	}
	return code, err
}

// stop sends TERM, kills the child if it is still running after grace, and waits.
func (c *child) stop(grace time.Duration) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	var err error
	select {
	case err = <-c.exited:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		err = <-c.exited
	}
	_, _ = c.status(err)
}

// signal forwards sig; it reports whether the grace period starts (TERM or INT).
func (c *child) signal(sig os.Signal) bool {
	_ = c.cmd.Process.Signal(sig)
	return sig == syscall.SIGTERM || sig == syscall.SIGINT
}

// supervisor runs COMMAND under --watch: signals forwarded, changes resolved again.
type supervisor struct {
	api     *agent.Client
	o       Options
	w       Watch
	clock   clock
	changed <-chan struct{}
	stopped <-chan error

	ch       *child
	res      agent.Resolution
	pace     debouncer
	pending  <-chan time.Time // the timer of a gathered or retried action
	deadline <-chan time.Time // the kill after a forwarded TERM or INT and Grace
}

// outcome is how a run ends: the status run exits with, or an error.
type outcome struct {
	code int
	err  error
}

// run starts COMMAND with res and supervises it until it exits, the resolution changes
// (--on-change exit) or the key is refused.
func (s *supervisor) run(ctx context.Context, res agent.Resolution) (int, error) {
	// The start is an action: a change right after it waits its turn. Its time is taken
	// before COMMAND starts, as act takes it before it resolves: anything COMMAND does is
	// after it.
	s.pace = debouncer{every: s.w.Debounce}
	s.pace.acted(s.clock.Now())
	ch, err := launch(s.o, res)
	if err != nil {
		return 0, err
	}
	s.ch, s.res = ch, res
	for {
		select {
		case err := <-s.ch.exited:
			return s.ch.status(err)
		case sig := <-s.o.Signals:
			if s.ch.signal(sig) && s.deadline == nil {
				s.deadline = time.After(s.o.Grace)
			}
			continue
		case <-s.deadline:
			_ = s.ch.cmd.Process.Kill()
			s.deadline = nil
			continue
		case err := <-s.stopped:
			return s.failClosed(err)
		case <-s.changed:
			act, wait := s.pace.change(s.clock.Now())
			if !act {
				if wait > 0 {
					s.pending = s.clock.After(wait)
				}
				continue
			}
		case <-s.pending:
		}
		s.pending = nil
		if end := s.act(ctx); end != nil {
			return end.code, end.err
		}
	}
}

// act resolves again and does what --on-change says when the resolution changed; an
// outcome ends the run.
func (s *supervisor) act(ctx context.Context) *outcome {
	s.pace.acted(s.clock.Now())
	next, err := resolveOnce(ctx, s.api, s.o)
	switch {
	case refused(err):
		code, err := s.failClosed(err)
		return &outcome{code, err}
	case err != nil: // the server is away: keep COMMAND, try again
		s.retry("resolving again after a change failed, retrying: %v", err)
		return nil
	case same(s.res, next):
		return nil
	}
	switch s.w.OnChange {
	case OnChangeSignal:
		return s.signalChange(next)
	case OnChangeExit:
		s.res = next
		s.ch.stop(s.o.Grace)
		s.notice("the resolution changed; COMMAND was stopped")
		return &outcome{ExitChanged, nil}
	}
	s.res = next
	s.ch.stop(s.o.Grace)
	if s.o.EnvFile != "" {
		if err := WriteEnvFile(s.o.EnvFile, next.Env, s.o.AgentKey); err != nil {
			return &outcome{0, err}
		}
	}
	s.notice("the resolution changed; restarting COMMAND")
	ch, err := launch(s.o, next)
	if err != nil {
		return &outcome{0, err}
	}
	s.ch, s.deadline = ch, nil
	return nil
}

// signalChange writes the new env to the env file, masks the new values too, then sends
// COMMAND the signal: the same process reloads. A file that cannot be written is tried
// again, COMMAND not told.
func (s *supervisor) signalChange(next agent.Resolution) *outcome {
	if err := WriteEnvFile(s.o.EnvFile, next.Env, s.o.AgentKey); err != nil {
		s.retry("%v; retrying", err)
		return nil
	}
	if wrap := s.o.wrap(); wrap != nil {
		if err := s.ch.rewrap(wrap, next); err != nil {
			s.ch.stop(s.o.Grace) // never let COMMAND print the new values unmasked
			return &outcome{0, err}
		}
	}
	s.res = next
	_ = s.ch.cmd.Process.Signal(s.w.Signal)
	s.notice("the resolution changed; %s rewritten, COMMAND sent %s", s.o.EnvFile, signalName(s.w.Signal))
	return nil
}

// retry says why an action failed and tries it again after Debounce, at least a second.
func (s *supervisor) retry(format string, args ...any) {
	s.notice(format, args...)
	s.pace.retry()
	s.pending = s.clock.After(max(s.w.Debounce, time.Second))
}

// failClosed stops COMMAND at once (TERM, Grace, kill) and returns ExitFailClosed.
func (s *supervisor) failClosed(err error) (int, error) {
	s.ch.stop(s.o.Grace)
	s.notice("COMMAND was stopped, the agent may no longer have its values: %v", err)
	return ExitFailClosed, nil
}

// notice is run's own line on its stderr (never a value: errors name codes and paths).
func (s *supervisor) notice(format string, args ...any) {
	if s.o.Stderr != nil {
		fmt.Fprintf(s.o.Stderr, "run --watch: "+format+"\n", args...)
	}
}
