package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secretsledger/secretsledger/agent"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/eventstore/natsbus"
)

// Scenarios.
const (
	Create  = "create"
	Rotate  = "rotate"
	Resolve = "resolve"
	Mixed   = "mixed"
)

// Scenarios lists the valid scenario names.
var Scenarios = []string{Create, Rotate, Resolve, Mixed}

// Options of one run.
type Options struct {
	BaseURL     string
	Token       string
	Scenario    string
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
}

// Result of one run. The JSON field names are the `bench --json` contract.
type Result struct {
	Scenario      string     `json:"scenario"`
	Concurrency   int        `json:"concurrency"`
	DurationSec   float64    `json:"duration_s"`
	Ops           int        `json:"ops"`
	OpsPerSec     float64    `json:"ops_per_sec"`
	P50           float64    `json:"p50_ms"`
	P90           float64    `json:"p90_ms"`
	P99           float64    `json:"p99_ms"`
	Max           float64    `json:"max_ms"`
	Errors        int64      `json:"errors"`
	FirstError    string     `json:"first_error,omitempty"`
	ProjectionLag Quantiles  `json:"projection_lag"`
	SubscriberLag *Quantiles `json:"commit_to_subscriber,omitempty"`
}

// lagEvery samples projection lag on one write in this many, so that the extra reads
// do not shape the load they measure.
const lagEvery = 10

// The consumer the resolve scenario binds its secrets to and resolves as.
const (
	benchTargetType = "agent"
	benchTargetID   = "bench-agent"
)

type run struct {
	o         Options
	api       *apiclient.Client
	company   string
	rotatable []string
	agent     *agent.Client // as the bench consumer's agent key
	latency   samples
	lag       samples
	errs      atomic.Int64
	firstErr  atomic.Value
	created   atomic.Int64
	mu        sync.Mutex
	acked     map[int64]time.Time // position → when the command was acknowledged
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func uuid4() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Run sets up, drives and tears down one scenario.
func Run(ctx context.Context, o Options) (Result, error) {
	valid := false
	for _, s := range Scenarios {
		valid = valid || s == o.Scenario
	}
	if !valid || o.Concurrency < 1 || o.Duration <= 0 {
		return Result{}, fmt.Errorf("loadtest: need a scenario (%v), concurrency ≥ 1 and a duration", Scenarios)
	}
	r := &run{o: o, api: newAPI(o.BaseURL, o.Token, o.Concurrency), company: uuid4(), acked: map[int64]time.Time{}}
	if err := r.setup(ctx); err != nil {
		return Result{}, fmt.Errorf("loadtest: setup: %w", err)
	}
	defer r.teardown(context.WithoutCancel(ctx))
	var sub *subscriber
	if r.o.Scenario != Resolve {
		// Only writes are acknowledged with a position to time; following every access
		// record of a resolve run would measure nothing and load the machine measured.
		sub = r.subscribe(ctx)
	}

	elapsed, ops := r.drive(ctx, func(ctx context.Context, _ int, rng *mrand.Rand, measuring bool) error {
		return r.op(ctx, rng, measuring)
	})
	res := r.result(elapsed, ops)
	res.ProjectionLag = r.lag.quantiles()
	if sub != nil {
		lag := sub.finish(r)
		res.SubscriberLag = &lag
	}
	return res, nil
}

// drive runs op from Concurrency workers for Warmup+Duration and returns how long the
// measured part lasted and how many operations it counted; latencies and errors of
// measured operations go into r.
func (r *run) drive(ctx context.Context, op func(ctx context.Context, worker int, rng *mrand.Rand, measuring bool) error) (time.Duration, int64) {
	var measuring atomic.Bool
	var ops atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, r.o.Warmup+r.o.Duration)
	defer cancel()
	time.AfterFunc(r.o.Warmup, func() { measuring.Store(true) })
	var start time.Time
	var once sync.Once
	var wg sync.WaitGroup
	for w := range r.o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for runCtx.Err() == nil {
				began := time.Now()
				// The end of the run stops new operations but lets running ones finish:
				// a request cut off mid-flight may still commit after teardown looked.
				err := op(ctx, w, rng, measuring.Load())
				if runCtx.Err() != nil || !measuring.Load() {
					continue // warm-up, or cut off by the end of the run: not counted
				}
				once.Do(func() { start = began })
				ops.Add(1)
				if err != nil {
					r.fail(err)
					continue
				}
				r.latency.add(time.Since(began))
			}
		}()
	}
	wg.Wait()
	return time.Since(start), ops.Load()
}

// result summarises a drive.
func (r *run) result(elapsed time.Duration, ops int64) Result {
	q := r.latency.quantiles()
	res := Result{Scenario: r.o.Scenario, Concurrency: r.o.Concurrency, DurationSec: elapsed.Seconds(), Ops: int(ops),
		OpsPerSec: float64(ops) / elapsed.Seconds(), P50: q.P50, P90: q.P90, P99: q.P99, Max: q.Max, Errors: r.errs.Load()}
	if s, ok := r.firstErr.Load().(string); ok {
		res.FirstError = s
	}
	return res
}

func (r *run) fail(err error) {
	r.errs.Add(1)
	r.firstErr.CompareAndSwap(nil, err.Error())
}

func (r *run) setup(ctx context.Context) error {
	if r.o.Scenario == Rotate || r.o.Scenario == Mixed {
		for i := range 100 {
			id, _, err := r.create(ctx, fmt.Sprintf("bench-rotate-%d", i))
			if err != nil {
				return err
			}
			r.rotatable = append(r.rotatable, id)
		}
	}
	if r.o.Scenario == Resolve || r.o.Scenario == Mixed {
		for i := 1; i <= 3; i++ {
			id, _, err := r.create(ctx, fmt.Sprintf("bench-resolve-%d", i))
			if err != nil {
				return err
			}
			if _, _, err := r.api.CreateBinding(ctx, r.company, apiclient.CreateBinding{
				SecretID: id, TargetType: benchTargetType, TargetID: benchTargetID, ConfigPath: fmt.Sprintf("env.BENCH_%d", i),
			}); err != nil {
				return err
			}
		}
		key, _, err := r.api.IssueAgentKey(ctx, r.company, apiclient.IssueAgentKey{TargetType: benchTargetType, TargetID: benchTargetID, Label: "bench"})
		if err != nil {
			return err
		}
		r.agent = newAgent(r.o.BaseURL, key.Token, r.o.Concurrency)
	}
	return nil
}

func (r *run) create(ctx context.Context, name string) (string, int64, error) {
	s, a, err := r.api.CreateSecret(ctx, r.company, apiclient.CreateSecret{Name: name, Value: randomHex(24)})
	if err != nil {
		return "", 0, err
	}
	return s.ID, a.Position(), nil
}

// op runs one operation of the scenario.
func (r *run) op(ctx context.Context, rng *mrand.Rand, measure bool) error {
	kind := r.o.Scenario
	if kind == Mixed {
		switch p := rng.IntN(100); {
		case p < 80:
			kind = Resolve
		case p < 95:
			kind = Rotate
		default:
			kind = Create
		}
	}
	sampleLag := measure && rng.IntN(lagEvery) == 0
	switch kind {
	case Create:
		id, pos, err := r.create(ctx, fmt.Sprintf("bench-create-%d-%s", r.created.Add(1), randomHex(4)))
		if err == nil {
			r.ack(pos)
			if sampleLag {
				r.measureLag(ctx, id, 1)
			}
		}
		return err
	case Rotate:
		id := r.rotatable[rng.IntN(len(r.rotatable))]
		s, a, err := r.api.RotateSecret(ctx, id, apiclient.RotateSecret{Value: randomHex(24)})
		if err == nil {
			r.ack(a.Position())
			if sampleLag {
				r.measureLag(ctx, id, s.LatestVersion)
			}
		}
		return err
	default:
		res, err := r.agent.Resolve(ctx, agent.ResolveRequest{RunID: "bench"})
		if err != nil {
			return err
		}
		if len(res.Env) != 3 {
			return fmt.Errorf("resolve returned %d values, want 3", len(res.Env))
		}
		return nil
	}
}

func (r *run) ack(position int64) {
	if position == 0 {
		return
	}
	r.mu.Lock()
	r.acked[position] = time.Now()
	r.mu.Unlock()
}

// measureLag times, from the command's acknowledgement, until the read model shows at
// least version on the secret.
func (r *run) measureLag(ctx context.Context, id string, version int64) {
	acked := time.Now()
	for ctx.Err() == nil {
		if s, _, err := r.api.GetSecret(ctx, id, nil); err == nil && s.LatestVersion >= version {
			r.lag.add(time.Since(acked))
			return
		}
		if time.Since(acked) > 10*time.Second {
			r.fail(errors.New("a write did not reach the read model within 10s"))
			return
		}
	}
}

// teardown removes what setup and the run created: bindings, the agent key, secrets.
func (r *run) teardown(ctx context.Context) {
	r.drain(ctx, func() ([]string, error) {
		page, _, err := r.api.ListBindings(ctx, r.company, url.Values{"limit": {"1000"}})
		return ids(page.Items, func(b apiclient.Binding) string { return b.ID }), err
	}, func(id string) error {
		_, _, err := r.api.DeleteBinding(ctx, id)
		return err
	})
	r.drain(ctx, func() ([]string, error) {
		page, _, err := r.api.ListSecrets(ctx, r.company, url.Values{"limit": {"1000"}})
		return ids(page.Items, func(s apiclient.Secret) string { return s.ID }), err
	}, func(id string) error {
		_, _, err := r.api.DeleteSecret(ctx, id)
		return err
	})
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

// drain deletes what list shows, a page at a time, until it shows nothing or a whole
// page could not be deleted.
func (r *run) drain(ctx context.Context, list func() ([]string, error), remove func(id string) error) {
	for ctx.Err() == nil {
		page, err := list()
		if err != nil || len(page) == 0 {
			return
		}
		ids := make(chan string)
		var deleted atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range ids {
					if remove(id) == nil {
						deleted.Add(1)
					}
				}
			}()
		}
		for _, id := range page {
			ids <- id
		}
		close(ids)
		wg.Wait()
		if deleted.Load() == 0 {
			return
		}
	}
}

// subscriber follows the bench company's events over NATS, when the server issues
// subscriber credentials (embedded NATS).
type subscriber struct {
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	received map[int64]time.Time
}

func (r *run) subscribe(ctx context.Context) *subscriber {
	_, a, err := r.api.IssueEventSubscriber(ctx, r.company, apiclient.IssueSubscriber{Label: "bench"})
	if err != nil {
		return nil // no embedded NATS: nothing to measure
	}
	var creds natsbus.SubscriberCredentials // the same document, with its expiry as a time
	if json.Unmarshal(a.Body, &creds) != nil {
		return nil
	}
	s := &subscriber{done: make(chan struct{}), received: map[int64]time.Time{}}
	sctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go func() {
		defer close(s.done)
		_ = natsbus.Follow(sctx, creds, func(e natsbus.Envelope) error {
			s.mu.Lock()
			s.received[e.Position] = time.Now()
			s.mu.Unlock()
			return nil
		})
	}()
	return s
}

// finish waits (at most 10 s) for every acknowledged write to arrive and returns the
// commit-to-subscriber latencies.
func (s *subscriber) finish(r *run) Quantiles {
	deadline := time.Now().Add(10 * time.Second)
	var lat samples
	for {
		r.mu.Lock()
		s.mu.Lock()
		missing := 0
		for pos := range r.acked {
			if _, ok := s.received[pos]; !ok {
				missing++
			}
		}
		s.mu.Unlock()
		r.mu.Unlock()
		if missing == 0 || time.Now().After(deadline) {
			if missing > 0 {
				r.fail(fmt.Errorf("%d acknowledged events never reached the NATS subscriber", missing))
			}
			break
		}
		time.Sleep(50 * time.Millisecond) // waiting on a remote subscriber
	}
	s.cancel()
	<-s.done
	r.mu.Lock()
	defer r.mu.Unlock()
	for pos, at := range r.acked {
		if got, ok := s.received[pos]; ok {
			lat.add(max(0, got.Sub(at)))
		}
	}
	return lat.quantiles()
}
