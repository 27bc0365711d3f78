package main

// BenchmarkRotationToRestart: how long a rotation takes to reach an agent that
// `run --watch` keeps current, on the real binary. It is a benchmark, not a test: it
// runs only with -bench, and like every end-to-end test it skips under -short.
//
//	go test -run XXX -bench RotationToRestart -benchtime 1x ./cmd/secretsledger/
//
// LEDGER_BENCH_DEBOUNCE is a comma-separated list of run's --debounce values to measure
// (default "0,1s"; each is a sub-benchmark: debounce=0s/idle, debounce=0s/mixed, …).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rotationsPerRun is how many rotations each sub-benchmark times, once: b.N is not the
// loop, a latency distribution is the result.
const rotationsPerRun = 100

// rotationBench is the server the sub-benchmarks share: one secret bound to agent-bench
// at env.MY_KEY, and that agent's key.
type rotationBench struct {
	e                 *instanceEnv
	token, key        string
	secretID, company string
	value             string // the secret's current value
}

// BenchmarkRotationToRestart times, for each of rotationsPerRun rotations, from just
// before the rotate request is sent (t0: a conservative bound on the commit, which
// happens later) to the moment the child `run --watch --on-change restart` started with
// the new value took its own timestamp (t1), with the server idle and under
// `secretsledger bench --scenario mixed --concurrency 16`. It reports p50, p99 and max
// in ms, and the same from t0 to the change feed's answer to a long poll parked before
// the rotation (where the wake-up's share of the time shows).
func BenchmarkRotationToRestart(b *testing.B) {
	e := newInstance(b)
	s := e.serve(b)
	e.waitReady(b, s)
	rb := &rotationBench{e: e, token: e.instanceToken(b), company: companyA, value: canary("bench")}
	board := e.client(b, rb.token)
	rb.secretID = board.must(201, "POST", "/api/companies/"+rb.company+"/secrets", `{"name": "WATCHED", "value": "`+rb.value+`"}`).json(b)["id"].(string)
	board.must(201, "POST", "/api/companies/"+rb.company+"/secret-bindings", `{"secretId": "`+rb.secretID+
		`", "targetType": "agent", "targetId": "agent-bench", "configPath": "env.MY_KEY", "versionSelector": "latest"}`)
	rb.key = board.must(201, "POST", "/api/companies/"+rb.company+"/agent-keys", `{"targetType": "agent", "targetId": "agent-bench"}`).json(b)["token"].(string)
	for _, debounce := range benchDebounces(b) {
		for _, load := range []string{"idle", "mixed"} {
			b.Run(fmt.Sprintf("debounce=%s/%s", debounce, load), func(b *testing.B) { rb.measure(b, debounce, load == "mixed") })
		}
	}
}

// benchDebounces are the --debounce values LEDGER_BENCH_DEBOUNCE names.
func benchDebounces(b *testing.B) []time.Duration {
	list := os.Getenv("LEDGER_BENCH_DEBOUNCE")
	if list == "" {
		list = "0,1s"
	}
	var out []time.Duration
	for _, s := range strings.Split(list, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			b.Fatalf("LEDGER_BENCH_DEBOUNCE: %v", err)
		}
		out = append(out, d)
	}
	return out
}

// measure runs the rotations once with run --watch --debounce debounce, under load or
// not, and reports the figures.
func (rb *rotationBench) measure(b *testing.B, debounce time.Duration, underLoad bool) {
	board, agent := rb.e.client(b, rb.token), rb.e.client(b, rb.key)
	w := startTimedWatch(b, rb.e, rb.key, debounce)
	w.started(b, rb.value)
	head := func() int64 { return decodeFeed(b, agent.must(200, "GET", "/api/runtime/changes", "")).Position }
	var bench *mixedLoad
	if underLoad {
		bench = startMixedLoad(b, rb.e)
		// The load is under way once its setup is written and its operations append:
		// the log has grown past what the setup alone writes (about 110 events).
		before := head()
		pollUntil(b, time.Minute, func() string {
			if grown := head() - before; grown < 500 {
				return fmt.Sprintf("bench mixed has appended %d events", grown)
			}
			return ""
		})
	}
	position := head()
	restarts, feed := make([]time.Duration, 0, rotationsPerRun), make([]time.Duration, 0, rotationsPerRun)
	b.ResetTimer()
	var last time.Time // when the previous child started
	for i := range rotationsPerRun {
		// Rotations come after a quiet period, as they do in production (minutes
		// apart): one within --debounce of the previous restart is held back by the
		// damping on purpose, and would measure the damping, not the path. This paces
		// the workload; it synchronises nothing.
		time.Sleep(time.Until(last.Add(debounce)))
		answered := parkPoll(agent, position)
		rotated := canary(fmt.Sprintf("bench-%d", i))
		t0 := time.Now()
		board.must(200, "POST", "/api/secrets/"+rb.secretID+"/rotate", `{"value": "`+rotated+`"}`)
		rb.value = rotated
		t1 := w.started(b, rotated)
		last = t1
		restarts = append(restarts, t1.Sub(t0))
		a := <-answered
		if a.err != nil || len(a.feed.Changes) == 0 {
			b.Fatalf("the feed's long poll after rotation %d: %v %+v", i, a.err, a.feed)
		}
		feed = append(feed, a.at.Sub(t0))
		position = a.feed.Position
	}
	b.StopTimer()
	reportQuantiles(b, "", restarts)
	reportQuantiles(b, "feed-", feed)
	if bench != nil {
		opsPerSec, segments := bench.stop(b)
		b.ReportMetric(opsPerSec, "mixed-ops/s")
		b.Logf("bench mixed @16: %.0f ops/s over %d segments", opsPerSec, segments)
	}
	w.stop(b)
}

// answer is a long poll's answer and when it came.
type answer struct {
	feed feedAnswer
	at   time.Time
	err  error
}

// parkPoll sends a long poll from position on its own goroutine. Whether it is parked
// by the time the rotation commits or arrives after, its answer comes no earlier than
// the change, so the time to it is the feed's wake-up or less.
func parkPoll(agent *apiClient, position int64) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		r, err := agent.try("GET", "/api/runtime/changes?after="+strconv.FormatInt(position, 10)+"&wait=30", "")
		a := answer{at: time.Now(), err: err}
		if err == nil && r.status != 200 {
			a.err = fmt.Errorf("status %d: %s", r.status, r.body)
		} else if err == nil {
			a.err = json.Unmarshal(r.body, &a.feed)
		}
		out <- a
	}()
	return out
}

// reportQuantiles reports p50, p99 and max of ds in ms, and logs them.
func reportQuantiles(b *testing.B, prefix string, ds []time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration { return s[int(math.Ceil(p*float64(len(s))))-1] } // nearest rank
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(rank(0.50)), prefix+"p50-ms")
	b.ReportMetric(ms(rank(0.99)), prefix+"p99-ms")
	b.ReportMetric(ms(s[len(s)-1]), prefix+"max-ms")
	b.Logf("%s%d rotations: p50 %.1f ms, p99 %.1f ms, max %.1f ms", prefix, len(s), ms(rank(0.50)), ms(rank(0.99)), ms(s[len(s)-1]))
}

// timedWatch is a `run --watch --on-change restart` whose child, on each start, appends
// "VALUE NANOSECONDS" (its MY_KEY and `date +%s%N`) to a file and then sleeps.
type timedWatch struct {
	out    string
	proc   *os.Process
	exited chan error
	stderr *bytes.Buffer
}

func startTimedWatch(b *testing.B, e *instanceEnv, key string, debounce time.Duration) *timedWatch {
	b.Helper()
	w := &timedWatch{out: filepath.Join(b.TempDir(), "starts"), exited: make(chan error, 1), stderr: &bytes.Buffer{}}
	cmd := e.command("run", "--watch", "--on-change", "restart", "--debounce", debounce.String(), "--", "sh", "-c",
		`printf '%s %s\n' "$MY_KEY" "$(date +%s%N)" >> "$OUT"; exec sleep 3600`)
	cmd.Env = append(cmd.Env, "LEDGER_AGENT_KEY="+key, "OUT="+w.out)
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.proc = cmd.Process
	go func() { w.exited <- cmd.Wait() }()
	b.Cleanup(func() { _ = cmd.Process.Kill() })
	return w
}

// started waits for the line of a child started with value and returns the child's
// own timestamp.
func (w *timedWatch) started(b *testing.B, value string) time.Time {
	b.Helper()
	var at time.Time
	pollUntil(b, time.Minute, func() string {
		f, err := os.Open(w.out)
		if err != nil {
			return "no child started yet: " + w.stderr.String()
		}
		defer f.Close()
		for sc := bufio.NewScanner(f); sc.Scan(); {
			if v, ns, ok := strings.Cut(sc.Text(), " "); ok && v == value {
				n, err := strconv.ParseInt(ns, 10, 64)
				if err != nil {
					b.Fatalf("the child's timestamp %q: %v", ns, err)
				}
				at = time.Unix(0, n)
				return ""
			}
		}
		return "no child started with the value: " + w.stderr.String()
	})
	return at
}

// stop sends TERM to run, which forwards it to the child, and waits for both.
func (w *timedWatch) stop(b *testing.B) {
	b.Helper()
	_ = w.proc.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(30 * time.Second):
		b.Fatalf("run --watch did not stop: %s", w.stderr.String())
	}
}

// mixedLoad runs `secretsledger bench --scenario mixed --concurrency 16` in segments of
// mixedSegment, one after another, until stopped: the load lasts as long as the
// rotations do, however long that is, and each segment reports its throughput.
type mixedLoad struct {
	mu      sync.Mutex
	results []mixedResult
	stopped chan struct{}
	done    chan struct{}
}

type mixedResult struct {
	OpsPerSec   float64 `json:"ops_per_sec"`
	DurationSec float64 `json:"duration_s"`
	Errors      int64   `json:"errors"`
	err         error
}

const mixedSegment = 15 * time.Second

func startMixedLoad(b *testing.B, e *instanceEnv) *mixedLoad {
	l := &mixedLoad{stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stopped:
				return
			default:
			}
			cmd := e.command("bench", "--scenario", "mixed", "--concurrency", "16", "--duration", mixedSegment.String(), "--json")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			var r mixedResult
			if err := cmd.Run(); err != nil {
				r.err = fmt.Errorf("bench: %v: %s", err, stderr.String())
			} else if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
				r.err = fmt.Errorf("bench answer %q: %v", stdout.String(), err)
			}
			l.mu.Lock()
			l.results = append(l.results, r)
			l.mu.Unlock()
		}
	}()
	b.Cleanup(func() {
		select {
		case <-l.stopped:
		default:
			close(l.stopped)
		}
		<-l.done
	})
	return l
}

// stop waits for the segment under way to end and returns the throughput of all of
// them (ops weighted by their measured durations).
func (l *mixedLoad) stop(b *testing.B) (float64, int) {
	b.Helper()
	close(l.stopped)
	<-l.done
	var ops, secs float64
	for _, r := range l.results {
		if r.err != nil || r.Errors > 0 {
			b.Fatalf("a bench mixed segment failed: %v (%d errors)", r.err, r.Errors)
		}
		ops += r.OpsPerSec * r.DurationSec
		secs += r.DurationSec
	}
	if secs == 0 {
		b.Fatal("no bench mixed segment ran")
	}
	return ops / secs, len(l.results)
}
