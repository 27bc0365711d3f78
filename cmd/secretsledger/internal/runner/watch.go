package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

// The exit codes of run --watch of its own (otherwise COMMAND's, as without --watch).
const (
	// ExitChanged: --on-change exit, the resolution changed and COMMAND was stopped.
	ExitChanged = 75
	// ExitFailClosed: the agent key was revoked (401) or the company or consumer frozen
	// (403), or a resolution after a change failed; COMMAND was stopped at once.
	ExitFailClosed = 77
)

// OnChange values: what --watch does when the resolution changed.
const (
	OnChangeRestart = "restart"
	OnChangeExit    = "exit"
)

// DefaultDebounce is how long --watch gathers changes before it resolves again.
const DefaultDebounce = time.Second

// Watch is run --watch: follow the change feed while COMMAND runs.
type Watch struct {
	// Debounce is how long after a change it waits, gathering those that follow,
	// before it resolves again.
	Debounce time.Duration
	// OnChange is OnChangeRestart or OnChangeExit.
	OnChange string
	// Wait is the long poll's wait in seconds (0: the server's default).
	Wait int
}

// callTimeout bounds one resolution or head read; a poll gets its wait on top.
const callTimeout = 30 * time.Second

// RunWatching is Run that keeps COMMAND's resolution current: it follows the change feed
// from the head it read before resolving and, after a change and o.Watch.Debounce,
// resolves again; when what COMMAND received changed it restarts COMMAND with the new
// env (TERM, Grace, kill) or stops it and returns ExitChanged. A revoked key or a
// frozen company or consumer stops COMMAND and returns ExitFailClosed: it never runs on
// with values it may no longer have. ctx ends the following, not COMMAND.
func RunWatching(ctx context.Context, api *apiclient.Client, o Options, w Watch) (int, error) {
	if len(o.Command) == 0 {
		return 0, errors.New("no command to run")
	}
	c, cancel := context.WithTimeout(ctx, callTimeout)
	head, _, err := api.RuntimeChanges(c, -1, 0)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("the command was not started: read the change feed: %w", err)
	}
	res, err := resolveOnce(ctx, api, o)
	var resErr *ResolutionError
	if err != nil && !errors.As(err, &resErr) {
		return 0, fmt.Errorf("the command was not started: %w", err)
	} else if err != nil {
		return 0, err
	}
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	f := newFollower(api, w.Wait)
	go f.follow(followCtx, head.Position)
	s := &supervisor{api: api, o: o, w: w, f: f}
	return s.run(ctx, res)
}

// resolveOnce resolves as Run does: the manifest written, a failed path an error.
func resolveOnce(ctx context.Context, api *apiclient.Client, o Options) (apiclient.Resolution, error) {
	c, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, _, err := api.Resolve(c, apiclient.Resolve{ConfigPaths: o.Paths, RunID: o.RunID, IssueID: o.IssueID})
	if err != nil {
		return res, fmt.Errorf("resolve: %w", err)
	}
	if o.Manifest != "" {
		if err := writeManifest(o.Manifest, newManifest(o, res.Manifest)); err != nil {
			return res, err
		}
	}
	if failed := failures(o.Paths, res.Manifest); len(failed) > 0 {
		return res, &ResolutionError{Failed: failed}
	}
	return res, nil
}

// denied reports whether err is the server refusing the key: revoked (401) or frozen (403).
func denied(err error) bool {
	var apiErr *apiclient.Error
	return errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden)
}

// refused reports whether a resolution after a change says COMMAND may no longer have
// its values: the key refused, or a required path failing (422 from the server, or on
// the client's check).
func refused(err error) bool {
	var apiErr *apiclient.Error
	var resErr *ResolutionError
	return denied(err) || errors.As(err, &resErr) ||
		(errors.As(err, &apiErr) && apiErr.Status == http.StatusUnprocessableEntity)
}

// follower follows the change feed: a change is a tick on changed, a refusal of the key
// closes denied. Other failures (the server restarting, the network) are retried, from
// the position it had.
type follower struct {
	api     *apiclient.Client
	wait    int
	changed chan struct{}
	denied  chan error
}

func newFollower(api *apiclient.Client, wait int) *follower {
	return &follower{api: api, wait: wait, changed: make(chan struct{}, 1), denied: make(chan error, 1)}
}

func (f *follower) follow(ctx context.Context, after int64) {
	budget := callTimeout + time.Duration(max(f.wait, 30))*time.Second
	for ctx.Err() == nil {
		c, cancel := context.WithTimeout(ctx, budget)
		got, _, err := f.api.RuntimeChanges(c, after, f.wait)
		cancel()
		switch {
		case denied(err):
			f.denied <- err
			return
		case err != nil:
			select { // retry: a restart of serve, a dropped connection
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		after = max(after, got.Position)
		if len(got.Changes) > 0 {
			select {
			case f.changed <- struct{}{}:
			default: // one pending tick stands for any number of changes
			}
		}
	}
}

// same reports whether two resolutions give COMMAND the same: env values, values by
// path, and the secret and version behind each path.
func same(a, b apiclient.Resolution) bool {
	if !maps.Equal(a.Env, b.Env) || !maps.Equal(a.Values, b.Values) {
		return false
	}
	key := func(m apiclient.ManifestEntry) string {
		return fmt.Sprintf("%s\x00%s\x00%d\x00%s", m.ConfigPath, m.SecretID, m.Version, m.Outcome)
	}
	ka, kb := make([]string, 0, len(a.Manifest)), make([]string, 0, len(b.Manifest))
	for _, m := range a.Manifest {
		ka = append(ka, key(m))
	}
	for _, m := range b.Manifest {
		kb = append(kb, key(m))
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

// child is one start of COMMAND.
type child struct {
	cmd    *exec.Cmd
	exited chan error
	done   func() error
}

// launch starts COMMAND with res's env, as start does.
func launch(o Options, res apiclient.Resolution) (*child, error) {
	stdout, stderr, done := o.Stdout, o.Stderr, func() error { return nil }
	if o.Wrap != nil {
		var err error
		if stdout, stderr, done, err = o.Wrap(secrets(res), o.Stdout, o.Stderr); err != nil {
			return nil, fmt.Errorf("the output filter: %w", err)
		}
	}
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Env = childEnv(o.Environ, res.Env, o.Isolated, o.AgentKey)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		_ = done()
		return nil, fmt.Errorf("start %s: %w", o.Command[0], err)
	}
	c := &child{cmd: cmd, exited: make(chan error, 1), done: done}
	go func() { c.exited <- cmd.Wait() }()
	return c, nil
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
	api *apiclient.Client
	o   Options
	w   Watch
	f   *follower
}

// run starts COMMAND with res and supervises it until it exits, the resolution changes
// (--on-change exit) or the key is refused.
func (s *supervisor) run(ctx context.Context, res apiclient.Resolution) (int, error) {
	ch, err := launch(s.o, res)
	if err != nil {
		return 0, err
	}
	var deadline, debounce <-chan time.Time
	for {
		select {
		case err := <-ch.exited:
			return ch.status(err)
		case sig := <-s.o.Signals:
			if ch.signal(sig) && deadline == nil {
				deadline = time.After(s.o.Grace)
			}
		case <-deadline:
			_ = ch.cmd.Process.Kill()
			deadline = nil
		case err := <-s.f.denied:
			return s.failClosed(ch, err)
		case <-s.f.changed:
			if debounce == nil {
				debounce = time.After(s.w.Debounce)
			}
		case <-debounce:
			debounce = nil
			next, err := resolveOnce(ctx, s.api, s.o)
			switch {
			case refused(err):
				return s.failClosed(ch, err)
			case err != nil: // the server is away: keep COMMAND, try again
				s.notice("resolving again after a change failed, retrying: %v", err)
				debounce = time.After(max(s.w.Debounce, time.Second))
				continue
			case same(res, next):
				continue
			}
			res = next
			ch.stop(s.o.Grace)
			if s.w.OnChange == OnChangeExit {
				s.notice("the resolution changed; COMMAND was stopped")
				return ExitChanged, nil
			}
			s.notice("the resolution changed; restarting COMMAND")
			if ch, err = launch(s.o, res); err != nil {
				return 0, err
			}
			deadline = nil
		}
	}
}

// failClosed stops COMMAND at once (TERM, Grace, kill) and returns ExitFailClosed.
func (s *supervisor) failClosed(ch *child, err error) (int, error) {
	ch.stop(s.o.Grace)
	s.notice("COMMAND was stopped, the agent may no longer have its values: %v", err)
	return ExitFailClosed, nil
}

// notice is run's own line on its stderr (never a value: errors name codes and paths).
func (s *supervisor) notice(format string, args ...any) {
	if s.o.Stderr != nil {
		fmt.Fprintf(s.o.Stderr, "run --watch: "+format+"\n", args...)
	}
}
