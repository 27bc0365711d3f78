package main

// The clients of TestHistoriesAreLinearizable and the history they record.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/oklog/ulid/v2"
)

// linWriteRetries bounds how long a write is retried with its Idempotency-Key before
// its outcome is recorded as unknown.
const linWriteRetries = 30 * time.Second

// linHistory is the recorded history: operations with call and return times in
// nanoseconds since start (monotonic clock). An unknown outcome's Return is set to the
// end of the history when it is checked.
type linHistory struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	// unknown, internal (500s), attempts and replayed (answers with Idempotent-Replayed)
	// count what the clients saw; longestDown is the longest time a client went from an
	// attempt without a definite answer to its next definite answer.
	unknown, internal, attempts, replayed int
	kinds                                 [len(linKindNames)]int
	longestDown                           time.Duration
}

func (h *linHistory) now() int64 { return int64(time.Since(h.start)) }

func (h *linHistory) record(client int, in linInput, call int64, out linOutput) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ret := h.now()
	if out.unknown {
		ret = -1 // set to the end of the history by operations()
		h.unknown++
	}
	h.kinds[in.kind]++
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

// operations returns the history, every unknown outcome returning after everything
// else: it may take effect at any point after its call, or never.
func (h *linHistory) operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	end := h.now()
	ops := append([]porcupine.Operation(nil), h.ops...)
	for i := range ops {
		end = max(end, ops[i].Return+1)
	}
	for i := range ops {
		if ops[i].Return < 0 {
			ops[i].Return = end
		}
	}
	return ops
}

// linEndpoints are the API clients of each process: replaced when a process restarts.
type linEndpoints struct {
	board, agent []atomic.Pointer[apiClient]
}

// linClient runs random operations on the secrets until stop. It keeps the latest
// version it saw of each secret, for its compare-and-sets (often stale on purpose).
type linClient struct {
	id        int
	h         *linHistory
	ep        *linEndpoints
	secrets   []string
	paths     []string
	seen      []int
	rnd       *rand.Rand
	seq       int
	downSince time.Time
	failure   func(format string, args ...any)
}

func (c *linClient) run(stop *atomic.Bool) {
	for !stop.Load() {
		i := c.rnd.IntN(len(c.secrets))
		in := linInput{secret: c.secrets[i]}
		switch n := c.rnd.IntN(100); {
		case n < 25:
			in.kind, in.expected = linRotateCAS, c.seen[i]
		case n < 40:
			in.kind = linRotate
		case n < 65:
			in.kind = linRead
		case n < 90:
			in.kind = linResolve
		case n < 94:
			in.kind = linDelete
		default:
			in.kind = linRestore
		}
		if in.kind == linRotate || in.kind == linRotateCAS {
			c.seq++
			in.value = fmt.Sprintf("lin-c%d-%d", c.id, c.seq)
		}
		call := c.h.now()
		out := c.do(in, c.paths[i])
		if !out.unknown && out.version > 0 {
			c.seen[i] = out.version
		}
		c.h.record(c.id, in, call, out)
	}
}

// do sends one operation to a process chosen at random. Writes are retried with one
// Idempotency-Key while they get no answer, a 503 or a 500 (each may have committed),
// so that retries and the first try are one operation; reads are not retried.
func (c *linClient) do(in linInput, path string) linOutput {
	method, url, body := "GET", "/api/secrets/"+in.secret+"?deleted=true", ""
	agent := false
	switch in.kind {
	case linRotate:
		method, url, body = "POST", "/api/secrets/"+in.secret+"/rotate", fmt.Sprintf(`{"value": %q}`, in.value)
	case linRotateCAS:
		method, url, body = "POST", "/api/secrets/"+in.secret+"/rotate",
			fmt.Sprintf(`{"value": %q, "expectedLatestVersion": %d}`, in.value, in.expected)
	case linResolve:
		method, url, body, agent = "POST", "/api/runtime/resolve", fmt.Sprintf(`{"configPaths": [%q]}`, path), true
	case linDelete:
		method, url = "DELETE", "/api/secrets/"+in.secret
	case linRestore:
		method, url = "POST", "/api/secrets/"+in.secret+"/restore"
	}
	write := in.kind != linRead && in.kind != linResolve
	headers := []string{}
	if write {
		headers = []string{"Idempotency-Key", "lin-" + ulid.Make().String()}
	}
	deadline := time.Now().Add(linWriteRetries)
	for {
		eps := c.ep.board
		if agent {
			eps = c.ep.agent
		}
		api := eps[c.rnd.IntN(len(eps))].Load()
		r, err := api.try(method, url, body, headers...)
		c.h.mu.Lock()
		c.h.attempts++
		if err == nil && r.status == http.StatusInternalServerError {
			c.h.internal++
		}
		c.h.mu.Unlock()
		if err == nil && r.status != http.StatusServiceUnavailable && r.status != http.StatusInternalServerError {
			c.up()
			return c.decode(in, path, r)
		}
		if c.downSince.IsZero() {
			c.downSince = time.Now()
		}
		if !write || time.Now().After(deadline) {
			return linOutput{unknown: true}
		}
		time.Sleep(100 * time.Millisecond) // a retry's back-off, not a synchronisation
	}
}

// up notes a definite answer: the end of the client's unavailability, if it was down.
func (c *linClient) up() {
	if c.downSince.IsZero() {
		return
	}
	down := time.Since(c.downSince)
	c.downSince = time.Time{}
	c.h.mu.Lock()
	c.h.longestDown = max(c.h.longestDown, down)
	c.h.mu.Unlock()
}

func (c *linClient) decode(in linInput, path string, r response) linOutput {
	out := linOutput{status: r.status}
	if r.status != http.StatusOK {
		if in.kind == linResolve && r.status == http.StatusConflict {
			return linOutput{unknown: true} // decided again too often: a refusal that read nothing
		}
		return out
	}
	replayed := r.header.Get("Idempotent-Replayed") == "true"
	if replayed {
		c.h.mu.Lock()
		c.h.replayed++
		c.h.mu.Unlock()
	}
	switch in.kind {
	case linResolve:
		var res struct {
			Values   map[string]string `json:"values"`
			Manifest []struct {
				ConfigPath string `json:"configPath"`
				Version    int    `json:"version"`
				Outcome    string `json:"outcome"`
			} `json:"manifest"`
		}
		if err := json.Unmarshal(r.body, &res); err != nil || len(res.Manifest) != 1 || res.Manifest[0].ConfigPath != path {
			c.failure("resolve %s: an answer without its one manifest entry (%v)", path, err)
			return linOutput{unknown: true}
		}
		m := res.Manifest[0]
		switch m.Outcome {
		case "resolved":
			out.version, out.value = m.Version, res.Values[path]
		case "secret_deleted":
			out.deleted = true
		default:
			c.failure("resolve %s: outcome %s", path, m.Outcome)
			return linOutput{unknown: true}
		}
	case linDelete:
	default:
		var sec struct {
			LatestVersion int     `json:"latestVersion"`
			DeletedAt     *string `json:"deletedAt"`
		}
		if err := json.Unmarshal(r.body, &sec); err != nil {
			c.failure("%s: %v", in.kind, err)
			return linOutput{unknown: true}
		}
		out.version, out.deleted = sec.LatestVersion, sec.DeletedAt != nil
		if replayed {
			out.version = 0 // a replay answers the secret as it is now, not as the first try left it
		}
	}
	return out
}
