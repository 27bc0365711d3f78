package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/secretsledger/secretsledger/agent"
)

// The exit codes of run --watch of its own (otherwise COMMAND's, as without --watch).
const (
	// ExitChanged: --on-change exit, the resolution changed and COMMAND was stopped.
	ExitChanged = 75
	// ExitFailClosed: the agent key was revoked (401) or the company or consumer frozen
	// (403), or a resolution after a change failed; COMMAND was stopped at once.
	ExitFailClosed = 77
)

// OnChange actions: what --watch does when the resolution changed.
const (
	OnChangeRestart = "restart"
	OnChangeExit    = "exit"
	// OnChangeSignal (--on-change signal:NAME): write the env file, signal COMMAND.
	OnChangeSignal = "signal"
)

// DefaultDebounce is how long --watch waits after acting on a change before it acts on
// another.
const DefaultDebounce = time.Second

// Watch is run --watch: follow the change feed while COMMAND runs.
type Watch struct {
	// Debounce is the least time between two actions on changes (see debouncer).
	Debounce time.Duration
	// OnChange is OnChangeRestart, OnChangeExit or OnChangeSignal.
	OnChange string
	// Signal is what OnChangeSignal sends COMMAND, after Options.EnvFile is rewritten.
	Signal syscall.Signal
	// Wait is the long poll's wait in seconds (0: the server's default).
	Wait int
	// clock paces the actions (nil: the real one); a test's drives them.
	clock clock
}

// callTimeout bounds one resolution or head read.
const callTimeout = 30 * time.Second

// RunWatching is Run that keeps COMMAND's resolution current: it follows the change feed
// from the head it read before resolving and, after a change (paced by w.Debounce),
// resolves again; when what COMMAND received changed it restarts COMMAND with the new
// env (TERM, Grace, kill), stops it and returns ExitChanged, or rewrites the env file and
// signals it. A revoked key or a frozen company or consumer stops COMMAND and returns
// ExitFailClosed: it never runs on with values it may no longer have. ctx ends the
// following, not COMMAND.
func RunWatching(ctx context.Context, api *agent.Client, o Options, w Watch) (int, error) {
	if len(o.Command) == 0 {
		return 0, errors.New("no command to run")
	}
	if w.OnChange == OnChangeSignal && (o.EnvFile == "" || w.Signal == 0) {
		return 0, errors.New("--on-change signal:NAME needs --env-file and a signal")
	}
	c, cancel := context.WithTimeout(ctx, callTimeout)
	head, err := api.Head(c)
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
	if o.EnvFile != "" {
		if err := WriteEnvFile(o.EnvFile, res.Env, o.AgentKey); err != nil {
			return 0, err
		}
	}
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	s := &supervisor{api: api, o: o, w: w, clock: w.clock}
	if s.clock == nil {
		s.clock = realClock{}
	}
	s.changed, s.stopped = follow(followCtx, api, head, w.Wait)
	return s.run(ctx, res)
}

// follow follows the change feed from after (agent.Follow: transient failures retried
// from the position it had). A change is a tick on changed (one pending tick stands for
// any number); the end of the following for another reason than ctx (a refused key)
// is its error on stopped.
func follow(ctx context.Context, api *agent.Client, after int64, wait int) (<-chan struct{}, <-chan error) {
	changed, stopped := make(chan struct{}, 1), make(chan error, 1)
	go func() {
		err := api.Follow(ctx, after, agent.FollowOptions{Wait: wait}, func(agent.Changes) error {
			select {
			case changed <- struct{}{}:
			default:
			}
			return nil
		})
		if ctx.Err() == nil {
			stopped <- err
		}
	}()
	return changed, stopped
}

// resolveOnce resolves as Run does: the manifest written, a failed path an error.
func resolveOnce(ctx context.Context, api *agent.Client, o Options) (agent.Resolution, error) {
	c, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := api.Resolve(c, agent.ResolveRequest{ConfigPaths: o.Paths, RunID: o.RunID, IssueID: o.IssueID})
	if err != nil {
		return res, fmt.Errorf("resolve: %w", err)
	}
	if o.Manifest != "" {
		if err := writeManifest(o.Manifest, newManifest(o, res)); err != nil {
			return res, err
		}
	}
	if failed := failures(o.Paths, res.Manifest); len(failed) > 0 {
		return res, &ResolutionError{Failed: failed}
	}
	return res, nil
}

// refused reports whether a resolution after a change says COMMAND may no longer have
// its values: the key refused, or a required path failing (422 from the server, or on
// the client's check).
func refused(err error) bool {
	var apiErr *agent.Error
	var resErr *ResolutionError
	return agent.Refused(err) || errors.As(err, &resErr) ||
		(errors.As(err, &apiErr) && apiErr.Status == http.StatusUnprocessableEntity)
}

// same reports whether two resolutions give COMMAND the same: env values, values by
// path, and the secret and version behind each path.
func same(a, b agent.Resolution) bool {
	if !maps.Equal(a.Env, b.Env) || !maps.Equal(a.Values, b.Values) {
		return false
	}
	key := func(m agent.ManifestEntry) string {
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

// clock is time for the supervisor, so that a test can drive its pacing.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
