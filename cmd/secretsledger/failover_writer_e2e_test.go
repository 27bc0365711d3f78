package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
)

// retryFor bounds how long a failover writer retries one operation: a failover that
// takes longer is a failure of the test.
const retryFor = 90 * time.Second

// failoverWriter creates secrets, binds them to its own consumer, rotates them and
// resolves them with its agent key, retrying every operation that got no answer or a
// 503 with the same Idempotency-Key until it is acknowledged: every write it was told
// about is definite. A resolution must return the value of the last version it was
// acknowledged for: its secrets are rotated by no one else.
type failoverWriter struct {
	board, agent *apiClient
	name         string
	// statsOf is the statistics of the fault now running.
	statsOf func() *faultStats
	stop    *atomic.Bool
	acked   func()

	creates   []ackedCreate
	rotations []ackedRotation
	versions  map[string]int    // secret id → latest acknowledged version
	bound     map[string]string // secret id → its config path
	failure   error
}

func (w *failoverWriter) run() {
	w.versions, w.bound = map[string]int{}, map[string]string{}
	for n := 0; !w.stop.Load(); n++ {
		var err error
		switch {
		case n%4 == 0 || len(w.creates) == 0:
			err = w.create(n)
		case n%4 == 1:
			err = w.bind(n)
		case n%4 == 2:
			err = w.rotate(w.creates[n%len(w.creates)].id)
		default:
			err = w.resolve(n)
		}
		if err != nil {
			w.failure = err
			return
		}
		w.acked()
	}
}

func (w *failoverWriter) create(n int) error {
	key := fmt.Sprintf("fo-%s-%d", w.name, n)
	r, err := w.send(w.board, "POST", "/api/companies/"+companyA+"/secrets",
		fmt.Sprintf(`{"name": %q, "key": %q, "value": "value-%s"}`, key, key, key), http.StatusCreated)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	c, err := ackOf(r, http.StatusCreated, key, 1)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	w.creates = append(w.creates, c)
	w.versions[c.id] = 1
	return nil
}

// bind binds the newest secret that has no binding yet to the writer's consumer.
func (w *failoverWriter) bind(n int) error {
	id := w.creates[len(w.creates)-1].id
	if _, done := w.bound[id]; done {
		return w.resolve(n)
	}
	path := fmt.Sprintf("fo.s%d", n)
	body := fmt.Sprintf(`{"secretId": %q, "targetType": "agent", "targetId": %q, "configPath": %q, "versionSelector": "latest"}`,
		id, w.name, path)
	if _, err := w.send(w.board, "POST", "/api/companies/"+companyA+"/secret-bindings", body, http.StatusCreated); err != nil {
		return fmt.Errorf("bind %s: %w", id, err)
	}
	w.bound[id] = path
	return nil
}

func (w *failoverWriter) rotate(id string) error {
	version := w.versions[id] + 1
	r, err := w.send(w.board, "POST", "/api/secrets/"+id+"/rotate", fmt.Sprintf(`{"value": "value-%s-v%d"}`, id, version), http.StatusOK)
	if err != nil {
		return fmt.Errorf("rotate %s to v%d: %w", id, version, err)
	}
	c, err := ackOf(r, http.StatusOK, "", version)
	if err == nil && c.id != id {
		err = fmt.Errorf("answered for secret %s", c.id)
	}
	if err != nil {
		return fmt.Errorf("rotate %s to v%d: %w", id, version, err)
	}
	w.rotations = append(w.rotations, ackedRotation{id: id, version: version, position: c.position})
	w.versions[id] = version
	return nil
}

// resolve resolves one bound secret and checks the value is its latest acknowledged one.
func (w *failoverWriter) resolve(n int) error {
	if len(w.bound) == 0 {
		return nil
	}
	ids := make([]string, 0, len(w.bound))
	for id := range w.bound {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	id := ids[n%len(ids)]
	path := w.bound[id]
	r, err := w.send(w.agent, "POST", "/api/runtime/resolve", fmt.Sprintf(`{"configPaths": [%q]}`, path), http.StatusOK)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", path, err)
	}
	var res struct {
		Values map[string]string `json:"values"`
	}
	if err := json.Unmarshal(r.body, &res); err != nil {
		return fmt.Errorf("resolve %s: %w", path, err)
	}
	want := "value-" + w.keyOf(id)
	if v := w.versions[id]; v > 1 {
		want = fmt.Sprintf("value-%s-v%d", id, v)
	}
	if res.Values[path] != want {
		return fmt.Errorf("resolve %s: not the value of v%d, the latest acknowledged version", path, w.versions[id])
	}
	return nil
}

func (w *failoverWriter) keyOf(id string) string {
	for _, c := range w.creates {
		if c.id == id {
			return c.key
		}
	}
	return ""
}

// errGaveUp is an operation that was not acknowledged within retryFor.
var errGaveUp = errors.New("no acknowledgement within the retry bound")

// send sends one operation until it is answered with want, with one Idempotency-Key
// for every try. No answer and 503 are retried; anything else is the test's failure.
func (w *failoverWriter) send(c *apiClient, method, path, body string, want int) (response, error) {
	key := fmt.Sprintf("fo-%s-%s", w.name, ulid.Make().String())
	deadline := time.Now().Add(retryFor)
	for {
		start := time.Now()
		r, err := c.try(method, path, body, "Idempotency-Key", key)
		w.statsOf().observe(r, err, time.Since(start))
		switch {
		case err == nil && r.status == want:
			return r, nil
		case err == nil && r.status != http.StatusServiceUnavailable:
			return r, fmt.Errorf("%w: status %d %s", errFailed, r.status, r.body)
		case time.Now().After(deadline):
			return r, errGaveUp
		}
		time.Sleep(100 * time.Millisecond) // a retry's back-off, not a synchronisation
	}
}

// faultStats is what the clients saw around one fault.
type faultStats struct {
	mu         sync.Mutex
	noAnswer   int            // transport errors: refused, reset, timed out
	refused    map[string]int // 503s by code
	longest    time.Duration  // the longest request
	successes  []time.Time
	injectedAt time.Time
}

func newFaultStats() *faultStats { return &faultStats{refused: map[string]int{}} }

func (s *faultStats) observe(r response, err error, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.longest = max(s.longest, took)
	switch {
	case err != nil:
		s.noAnswer++
	case r.status == http.StatusServiceUnavailable:
		var e struct {
			Details struct {
				Code string `json:"code"`
			} `json:"details"`
		}
		_ = json.Unmarshal(r.body, &e)
		s.refused[e.Details.Code]++
	case r.status < 300:
		s.successes = append(s.successes, time.Now())
	}
}

func (s *faultStats) inject() {
	s.mu.Lock()
	s.injectedAt = time.Now()
	s.mu.Unlock()
}

// unavailable is the longest time after the fault with no operation acknowledged.
func (s *faultStats) unavailable() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.injectedAt
	var longest time.Duration
	for _, at := range s.successes {
		if at.After(last) {
			longest = max(longest, at.Sub(last))
			last = at
		}
	}
	return longest
}

func (s *faultStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	codes := make([]string, 0, len(s.refused))
	for c, n := range s.refused {
		codes = append(codes, fmt.Sprintf("%s×%d", c, n))
	}
	slices.Sort(codes)
	return fmt.Sprintf("%d acknowledged, %d without an answer, 503 %s, longest request %s",
		len(s.successes), s.noAnswer, strings.Join(codes, " "), s.longest.Round(time.Millisecond))
}
