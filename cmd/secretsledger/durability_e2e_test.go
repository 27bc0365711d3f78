package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/natsbus"
)

const (
	// durabilityWriters clients write at once, each on its own secrets.
	durabilityWriters = 8
	// durabilityAcks acknowledged writes per round before the kill: enough that the
	// group commit runs full batches, few enough for CI.
	durabilityAcks = 200
	// durabilityRounds kill/restart cycles run on one instance, so the second crash
	// also hits a database that recovered from the first.
	durabilityRounds = 2
)

// kill -9 of the ledger while eight clients create and rotate secrets: after the
// restart every acknowledged write is in the log exactly once at the position it was
// acknowledged with, the read model agrees with the log, nothing appears that no client
// sent, the hash chain verifies, and a create whose answer was lost, retried with its
// Idempotency-Key, exists exactly once.
func TestKill9UnderConcurrentWritesLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	transport := &http.Transport{MaxIdleConnsPerHost: durabilityWriters}
	api.hc = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	book := newAckBook()

	for round := 1; round <= durabilityRounds; round++ {
		acked, unknown := writeUntilKilled(t, s, api, book, round)
		transport.CloseIdleConnections() // they led to the dead process

		s = e.serve(t)
		ready := e.waitReady(t, s)
		if !strings.Contains(s.stderr.String(), "orphaned PostgreSQL") {
			t.Fatalf("round %d: the restart did not recover the PostgreSQL the killed ledger left running:\n%s", round, s.stderr)
		}
		replayed, rotated, checked := book.settleAfterKill(t, round, api, e)
		t.Logf("round %d: %d writes acknowledged before kill -9; %d requests without an answer, of which committed: %d creates (replayed on retry), %d rotations; ready %s after restart; verify: %d events",
			round, acked, unknown, replayed, rotated, ready.Round(time.Millisecond), checked)
	}

	pid := e.postmasterPid()
	s.stop(t)
	if processAlive(pid) {
		t.Fatalf("postmaster %d still running after serve stopped\n%s", pid, s.stderr)
	}
}

// writeUntilKilled runs the writers against s, sends SIGKILL to the ledger process
// (only it: its PostgreSQL child stays behind, as after a crash) once durabilityAcks
// writes were acknowledged, and files every writer's results in book. It returns how
// many writes were acknowledged and how many requests lost their answer.
func writeUntilKilled(t *testing.T, s *server, api *apiClient, book *ackBook, round int) (int, int) {
	t.Helper()
	var acked atomic.Int64
	reached := make(chan struct{})
	writers := make([]*writer, durabilityWriters)
	var wg sync.WaitGroup
	for i := range writers {
		w := &writer{api: api, name: fmt.Sprintf("r%d-w%d", round, i)}
		writers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(func() bool {
				if acked.Add(1) == durabilityAcks {
					close(reached)
				}
				return true
			})
		}()
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-reached:
	case <-stopped:
		t.Fatalf("round %d: every writer stopped after %d acknowledged writes, before the kill:\n%s%s",
			round, acked.Load(), failures(writers), s.stderr)
	case <-s.exited:
		t.Fatalf("round %d: serve exited by itself:\n%s", round, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("round %d: only %d writes acknowledged in 30s", round, acked.Load())
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	<-stopped // each writer ends at its first request that gets no answer
	if f := failures(writers); f != "" {
		t.Fatalf("round %d: unexpected answers:\n%s", round, f)
	}
	unknown := 0
	for _, w := range writers {
		book.file(w)
		if w.lostCreate != nil || w.lostRotation != nil {
			unknown++
		}
	}
	return int(acked.Load()), unknown
}

func failures(writers []*writer) string {
	var b strings.Builder
	for _, w := range writers {
		if w.failure != nil {
			fmt.Fprintf(&b, "%s: %v\n", w.name, w.failure)
		}
	}
	return b.String()
}

// createRequest is one create as sent, so that it can be sent again unchanged.
type createRequest struct{ key, idempotencyKey, body string }

type ackedCreate struct {
	key, id  string
	position int64
}

type ackedRotation struct {
	id       string
	version  int
	position int64
}

// writer creates secrets and rotates its own ones, so its rotations never race
// another writer's and it knows each secret's version. It stops at the first request
// that gets no complete answer and keeps that request as the lost one, or once acked
// says so.
type writer struct {
	api          *apiClient
	name         string
	creates      []ackedCreate
	rotations    []ackedRotation
	owned        []ackedCreate
	versions     map[string]int
	lostCreate   *createRequest
	lostRotation *ackedRotation // the version it would have added; no position
	failure      error          // an answer that was not the expected 2xx
}

var errFailed = errors.New("unexpected answer")

func (w *writer) run(acked func() (more bool)) {
	w.versions = map[string]int{}
	for n := 0; ; n++ {
		var err error
		if n%3 == 2 {
			err = w.rotate(w.owned[n%len(w.owned)].id)
		} else {
			err = w.create(n)
		}
		if err != nil || !acked() {
			return
		}
	}
}

func (w *writer) create(n int) error {
	key := fmt.Sprintf("crash-%s-%d", w.name, n)
	req := createRequest{key: key, idempotencyKey: "idem-" + key,
		body: fmt.Sprintf(`{"name": %q, "key": %q, "value": "value-%s"}`, key, key, key)}
	r, err := w.api.try("POST", "/api/companies/"+companyA+"/secrets", req.body, "Idempotency-Key", req.idempotencyKey)
	if err != nil {
		w.lostCreate = &req
		return err
	}
	c, err := ackOf(r, http.StatusCreated, key, 1)
	if err != nil {
		w.failure = fmt.Errorf("create %s: %w", key, err)
		return errFailed
	}
	w.creates = append(w.creates, c)
	w.owned = append(w.owned, c)
	w.versions[c.id] = 1
	return nil
}

func (w *writer) rotate(id string) error {
	version := w.versions[id] + 1
	r, err := w.api.try("POST", "/api/secrets/"+id+"/rotate", fmt.Sprintf(`{"value": "value-%s-v%d"}`, id, version))
	if err != nil {
		w.lostRotation = &ackedRotation{id: id, version: version}
		return err
	}
	c, err := ackOf(r, http.StatusOK, "", version)
	if err == nil && c.id != id {
		err = fmt.Errorf("answered for secret %s", c.id)
	}
	if err != nil {
		w.failure = fmt.Errorf("rotate %s to v%d: %w", id, version, err)
		return errFailed
	}
	w.rotations = append(w.rotations, ackedRotation{id: id, version: version, position: c.position})
	w.versions[id] = version
	return nil
}

// ackOf checks a write's answer: the status, a secret at the version the write made
// current, and the log position it was committed at.
func ackOf(r response, status int, key string, version int) (ackedCreate, error) {
	var sec struct {
		ID            string `json:"id"`
		Key           string `json:"key"`
		LatestVersion int    `json:"latestVersion"`
	}
	if r.status != status {
		return ackedCreate{}, fmt.Errorf("status %d %s, want %d", r.status, r.body, status)
	}
	if err := json.Unmarshal(r.body, &sec); err != nil {
		return ackedCreate{}, fmt.Errorf("body %q: %w", r.body, err)
	}
	pos, err := strconv.ParseInt(r.header.Get("X-Ledger-Position"), 10, 64)
	switch {
	case err != nil || pos < 1:
		return ackedCreate{}, fmt.Errorf("X-Ledger-Position %q", r.header.Get("X-Ledger-Position"))
	case sec.ID == "" || (key != "" && sec.Key != key) || sec.LatestVersion != version:
		return ackedCreate{}, fmt.Errorf("answered %s", r.body)
	}
	return ackedCreate{key: sec.Key, id: sec.ID, position: pos}, nil
}

// ackBook holds every acknowledged write of the test, and the writes whose outcome is
// unknown until the log is read.
type ackBook struct {
	creates   map[string]ackedCreate // by key
	rotations []ackedRotation
	// versions is each secret's latest version as far as the clients know for sure.
	versions map[string]int
	// lostCreates were sent, and their answers lost, by the round that just ended.
	lostCreates []createRequest
	// lostRotations may have added versions[id]+1.
	lostRotations map[string]int
}

func newAckBook() *ackBook {
	return &ackBook{creates: map[string]ackedCreate{}, versions: map[string]int{}, lostRotations: map[string]int{}}
}

func (b *ackBook) file(w *writer) {
	for _, c := range w.creates {
		b.creates[c.key] = c
		b.versions[c.id] = 1
	}
	for _, r := range w.rotations {
		b.rotations = append(b.rotations, r)
		b.versions[r.id] = max(b.versions[r.id], r.version)
	}
	if w.lostCreate != nil {
		b.lostCreates = append(b.lostCreates, *w.lostCreate)
	}
	if w.lostRotation != nil {
		b.lostRotations[w.lostRotation.id] = w.lostRotation.version
	}
}

// retryUnknownCreates sends every create whose answer was lost again, with the same
// Idempotency-Key and body, as a client would after the restart: the answer is the
// original secret (replayed) or a new one, and a second retry replays it. It returns
// how many had been committed before the kill.
// settleAfterKill retries the creates whose answer the kill lost, checks every
// acknowledged write against the log (through api), and verifies the chain (through
// e's CLI) up to the newest of them. It returns the creates replayed, the unanswered
// rotations that had committed, and the events verify checked.
func (b *ackBook) settleAfterKill(t *testing.T, round int, api *apiClient, e *instanceEnv) (replayed, rotated int, checked int64) {
	t.Helper()
	replayed = b.retryUnknownCreates(t, api)
	waitSealedWith(t, e.psqlOwner) // the events route reads the sealed log
	last, rotated := b.check(t, api)
	code, out, errOut := e.run(t, "verify")
	if code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Fatalf("round %d: verify: exit %d\n%s%s", round, code, out, errOut)
	}
	var head int64
	if _, err := fmt.Sscanf(out, "ok: %d events, head position %d", &checked, &head); err != nil || head < last {
		t.Fatalf("round %d: verify checked up to position %d, the company's log reaches %d (%v)", round, head, last, err)
	}
	return replayed, rotated, checked
}

func (b *ackBook) retryUnknownCreates(t *testing.T, api *apiClient) int {
	t.Helper()
	replayed := 0
	for _, req := range b.lostCreates {
		path := "/api/companies/" + companyA + "/secrets"
		first := api.do("POST", path, req.body, "Idempotency-Key", req.idempotencyKey)
		c, err := ackOf(first, http.StatusCreated, req.key, 1)
		if err != nil {
			t.Fatalf("retry of the lost create %s: %v", req.key, err)
		}
		if first.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
		again := api.do("POST", path, req.body, "Idempotency-Key", req.idempotencyKey)
		c2, err := ackOf(again, http.StatusCreated, req.key, 1)
		if err != nil || c2 != c || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("second retry of %s: %v (replayed %q, id %s, position %d), the first retry gave %+v", req.key, err,
				again.header.Get("Idempotent-Replayed"), c2.id, c2.position, c)
		}
		b.creates[c.key] = c
		b.versions[c.id] = 1
	}
	b.lostCreates = nil
	return replayed
}

type versionKey struct {
	id      string
	version int
}

// check reads the company's whole log and the read model and compares them with the
// book. Lost rotations are resolved by what the log holds. It returns the position of
// the company's last event and how many lost rotations had committed.
func (b *ackBook) check(t *testing.T, api *apiClient) (int64, int) {
	t.Helper()
	l := readCompanyLog(t, api)
	b.acknowledgedAreInTheLog(t, l)
	rotated := b.readModelMatchesTheLog(t, api, l)
	return l.last, rotated
}

// companyLog is what check reads from the company's log.
type companyLog struct {
	byPosition     map[int64]natsbus.Envelope
	createdIDByKey map[string]string
	created        map[string]int     // secret id → secret.created events
	added          map[versionKey]int // (secret, version) → secret.version_added events
	latest         map[string]int     // secret id → latest version in the log
	last           int64              // the position of the company's last event
}

// readCompanyLog reads the company's whole log, failing on positions out of order, a
// repeated event id, a secret's event on another stream, or two secrets with one key.
func readCompanyLog(t *testing.T, api *apiClient) companyLog {
	t.Helper()
	byPosition := map[int64]natsbus.Envelope{}
	eventIDs := map[string]bool{}
	createdIDByKey := map[string]string{}
	created := map[string]int{}   // secret id → secret.created events
	added := map[versionKey]int{} // (secret, version) → secret.version_added events
	latest := map[string]int{}    // secret id → latest version in the log
	var last int64
	for {
		page := eventsPage(t, api, last)
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if ev.Position <= last {
				t.Fatalf("position %d after %d: the log is not in strictly increasing order", ev.Position, last)
			}
			last = ev.Position
			if eventIDs[ev.EventID] {
				t.Fatalf("event id %s appears twice", ev.EventID)
			}
			eventIDs[ev.EventID] = true
			byPosition[ev.Position] = ev
			var p struct {
				SecretID string `json:"secretId"`
				Key      string `json:"key"`
				Version  int    `json:"version"`
			}
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				t.Fatalf("payload of position %d: %v", ev.Position, err)
			}
			if ev.StreamID != "secret-"+p.SecretID && (ev.Type == "secret.created" || ev.Type == "secret.version_added") {
				t.Fatalf("position %d: %s of secret %s on stream %s", ev.Position, ev.Type, p.SecretID, ev.StreamID)
			}
			switch ev.Type {
			case "secret.created":
				created[p.SecretID]++
				if other, dup := createdIDByKey[p.Key]; dup {
					t.Fatalf("two secrets with key %s: %s and %s", p.Key, other, p.SecretID)
				}
				createdIDByKey[p.Key] = p.SecretID
				latest[p.SecretID] = max(latest[p.SecretID], 1)
			case "secret.version_added":
				added[versionKey{p.SecretID, p.Version}]++
				latest[p.SecretID] = max(latest[p.SecretID], p.Version)
			}
		}
	}
	return companyLog{byPosition: byPosition, createdIDByKey: createdIDByKey, created: created, added: added, latest: latest, last: last}
}

// acknowledgedAreInTheLog: every acknowledged create and rotation is in the log where
// its answer said, once; nothing in the log that no client sent.
func (b *ackBook) acknowledgedAreInTheLog(t *testing.T, l companyLog) {
	t.Helper()
	byPosition, createdIDByKey, created, added, latest := l.byPosition, l.createdIDByKey, l.created, l.added, l.latest
	for key, c := range b.creates {
		ev := byPosition[c.position]
		if ev.Type != "secret.created" || ev.StreamID != "secret-"+c.id {
			t.Fatalf("acknowledged create %s (%s) at position %d: the log has %q on %q there", key, c.id, c.position, ev.Type, ev.StreamID)
		}
		if created[c.id] != 1 || createdIDByKey[key] != c.id {
			t.Fatalf("acknowledged create %s: %d secret.created events for %s, the log's secret for the key is %q", key, created[c.id], c.id, createdIDByKey[key])
		}
	}
	for _, r := range b.rotations {
		ev := byPosition[r.position]
		var p struct {
			Version int `json:"version"`
		}
		_ = json.Unmarshal(ev.Payload, &p)
		if ev.Type != "secret.version_added" || ev.StreamID != "secret-"+r.id || p.Version != r.version {
			t.Fatalf("acknowledged rotation of %s to v%d at position %d: the log has %q on %q (v%d) there",
				r.id, r.version, r.position, ev.Type, ev.StreamID, p.Version)
		}
	}
	for vk, n := range added {
		if n != 1 {
			t.Fatalf("secret %s v%d added %d times", vk.id, vk.version, n)
		}
	}
	// Nothing in the log that no client sent: every key is one of ours, and the log's
	// versions of each secret are 1..latest without a gap.
	for key, id := range createdIDByKey {
		if b.creates[key].id != id {
			t.Fatalf("the log created secret %s with key %q, which no client was answered for", id, key)
		}
	}
	for id, n := range latest {
		for v := 2; v <= n; v++ {
			if added[versionKey{id, v}] != 1 {
				t.Fatalf("secret %s is at v%d in the log but v%d is missing", id, n, v)
			}
		}
	}
}

// readModelMatchesTheLog compares each secret's version in the log and the read model
// with the book; lost rotations are resolved by what the log holds. It returns how many
// lost rotations had committed.
func (b *ackBook) readModelMatchesTheLog(t *testing.T, api *apiClient, l companyLog) int {
	t.Helper()
	latest := l.latest
	rotated := 0
	for key, c := range b.creates {
		want := b.versions[c.id]
		if lost, ok := b.lostRotations[c.id]; ok && latest[c.id] == lost {
			want = lost // the rotation whose answer was lost had committed
			rotated++
		}
		if latest[c.id] != want {
			t.Fatalf("secret %s (%s): v%d in the log, acknowledged v%d", key, c.id, latest[c.id], b.versions[c.id])
		}
		got := api.must(http.StatusOK, "GET", "/api/secrets/"+c.id, "").json(t)
		if got["latestVersion"] != float64(want) || got["key"] != key {
			t.Fatalf("read model of %s: %v, the log says v%d", c.id, got, want)
		}
		b.versions[c.id] = want
	}
	clear(b.lostRotations)
	return rotated
}

// eventsPage reads the company's events after a position, as a JSON array or as an
// object with the page in "items".
func eventsPage(t *testing.T, api *apiClient, after int64) []natsbus.Envelope {
	t.Helper()
	r := api.must(http.StatusOK, "GET", fmt.Sprintf("/api/companies/%s/events?after=%d&limit=1000", companyA, after), "")
	var page []natsbus.Envelope
	if err := json.Unmarshal(r.body, &page); err == nil {
		return page
	}
	var wrapped struct {
		Items []natsbus.Envelope `json:"items"`
	}
	if err := json.Unmarshal(r.body, &wrapped); err != nil {
		t.Fatalf("events page: %v\n%s", err, r.body)
	}
	return wrapped.Items
}
