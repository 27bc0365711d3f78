package awssm

import (
	"context"
	"sync"
	"time"

	"github.com/secretsledger/secretsledger/providers"
)

// Bounds of the Commit retry queue.
const (
	maxQueuedCommits = 1000
	maxCommitBackoff = 5 * time.Minute
)

type commitJob struct {
	ref        providers.Ref
	versionRef string
	attempt    int
	due        time.Time
}

// commitQueue retries failed Commits in the background with doubling backoff. It keeps
// one job per secret name, the newest ledger version's: committing an older version
// after a newer one would move AWSCURRENT backwards.
type commitQueue struct {
	p        *Provider
	mu       sync.Mutex
	jobs     map[string]*commitJob
	wake     chan struct{}
	cancel   context.CancelFunc
	finished chan struct{}
	once     sync.Once
	stopped  bool // under mu: no job is queued any more
}

func startCommitQueue(p *Provider) *commitQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &commitQueue{p: p, jobs: map[string]*commitJob{}, wake: make(chan struct{}, 1), cancel: cancel, finished: make(chan struct{})}
	go q.run(ctx)
	return q
}

func (q *commitQueue) stop() {
	q.once.Do(func() {
		q.mu.Lock()
		q.stopped = true
		clear(q.jobs)
		q.mu.Unlock()
		q.cancel()
		<-q.finished
	})
}

// add queues ref's commit unless a job for a newer version of the secret is queued.
func (q *commitQueue) add(ref providers.Ref, versionRef string) {
	name := q.p.Name(ref)
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	if j, ok := q.jobs[name]; ok && j.ref.Version > ref.Version {
		q.mu.Unlock()
		return
	}
	if _, ok := q.jobs[name]; !ok && len(q.jobs) >= maxQueuedCommits {
		q.mu.Unlock()
		q.p.log.Error("aws secrets manager commit retry queue is full; AWSCURRENT stays behind for this version",
			"company", ref.CompanyID, "secret", ref.SecretID, "version", ref.Version)
		return
	}
	q.jobs[name] = &commitJob{ref: ref, versionRef: versionRef, due: time.Now().Add(q.p.opts.commitBackoff)}
	q.mu.Unlock()
	q.poke()
}

// done drops a queued job that a successful commit of version (or a newer one) settles.
func (q *commitQueue) done(name string, version int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if j, ok := q.jobs[name]; ok && j.ref.Version <= version {
		delete(q.jobs, name)
	}
}

func (q *commitQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *commitQueue) run(ctx context.Context) {
	defer close(q.finished)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		name, job, wait := q.next()
		if job != nil && wait <= 0 {
			q.attempt(ctx, name, job)
			continue
		}
		if job == nil {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// next returns the job due first and how long until it is due.
func (q *commitQueue) next() (string, *commitJob, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var name string
	var first *commitJob
	for n, j := range q.jobs {
		if first == nil || j.due.Before(first.due) {
			name, first = n, j
		}
	}
	if first == nil {
		return "", nil, 0
	}
	return name, first, time.Until(first.due)
}

func (q *commitQueue) attempt(ctx context.Context, name string, j *commitJob) {
	err := q.p.commit(ctx, j.ref, j.versionRef)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.jobs[name] != j {
		return // replaced by a newer version meanwhile
	}
	if err == nil {
		delete(q.jobs, name)
		q.p.log.Info("aws secrets manager commit retried successfully", "company", j.ref.CompanyID, "secret", j.ref.SecretID, "version", j.ref.Version)
		return
	}
	j.attempt++
	if j.attempt >= q.p.opts.commitTries || ctx.Err() != nil {
		delete(q.jobs, name)
		q.p.log.Error("aws secrets manager commit gave up; the version resolves, but AWSCURRENT stays behind",
			"company", j.ref.CompanyID, "secret", j.ref.SecretID, "version", j.ref.Version, "attempts", j.attempt, "err", err)
		return
	}
	backoff := q.p.opts.commitBackoff << j.attempt
	if backoff > maxCommitBackoff || backoff <= 0 {
		backoff = maxCommitBackoff
	}
	j.due = time.Now().Add(backoff)
}
