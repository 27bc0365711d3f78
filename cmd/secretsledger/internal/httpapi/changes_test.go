package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/queries"
)

func TestChangeFeed(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	get := func(query string) *http.Request {
		req := newRequest(http.MethodGet, "/api/runtime/changes", "")
		req.URL.RawQuery = strings.TrimPrefix(query, "?")
		return req
	}
	feed := func(query string) (int, map[string]any) {
		t.Helper()
		rec := s.do(get(query), s.agent)
		var m map[string]any
		if rec.Code == 200 {
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, m
	}
	s.sealedHead() // the feed reads the sealed log: the stack's own appends are in it
	code, head := feed("")
	if code != 200 || head["position"].(float64) <= 0 || len(head["changes"].([]any)) != 0 {
		t.Fatalf("head: %d %v", code, head)
	}
	after := strconv.FormatInt(int64(head["position"].(float64)), 10)
	if code, got := feed("?after=" + after + "&wait=1"); code != 200 || len(got["changes"].([]any)) != 0 {
		t.Fatalf("no change: %d %v", code, got)
	}
	for _, q := range []string{"?wait=0", "?wait=31", "?wait=x", "?after=-1", "?after=x"} {
		if code, _ := feed(q); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", q, code)
		}
	}
	wantStatus(t, s.do(newRequest(http.MethodGet, "/api/runtime/changes", ""), s.board), 403, "a board token")
}

// The concurrent-poll cap: once MaxPolls polls wait, the next is 503 EUNAVAILABLE with
// Retry-After, and a poll that returns frees its slot.
func TestChangeFeedPollCap(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.api.Changes.MaxPolls = 2
	s.route()
	head := strconv.FormatInt(s.head(), 10)
	poll := func(wait string) *http.Request {
		req := newRequest(http.MethodGet, "/api/runtime/changes", "")
		req.URL.RawQuery = "after=" + head + "&wait=" + wait
		return req
	}
	// park sends a 30 s poll on its own goroutine, again while the cap is full (a probe
	// below may hold a slot for its second); cancel is its client going away.
	park := func() (cancel func(), returned <-chan *httptest.ResponseRecorder) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			for {
				req := poll("30")
				req.Header.Set("Authorization", "Bearer "+s.agent)
				rec := httptest.NewRecorder()
				s.router.ServeHTTP(rec, req.WithContext(ctx))
				if rec.Code != http.StatusServiceUnavailable || ctx.Err() != nil {
					done <- rec
					return
				}
				time.Sleep(10 * time.Millisecond) // as a client told Retry-After, sooner
			}
		}()
		return cancel, done
	}
	cancel1, returned1 := park()
	cancel2, returned2 := park()
	defer cancel2()
	stillParked := func() {
		t.Helper()
		select {
		case rec := <-returned1:
			t.Fatalf("a parked poll returned: %d %s", rec.Code, rec.Body)
		case rec := <-returned2:
			t.Fatalf("a parked poll returned: %d %s", rec.Code, rec.Body)
		default:
		}
	}
	// Both parked polls hold the two slots once the handler counts two waiting.
	for deadline := time.Now().Add(20 * time.Second); len(s.api.Changes.polls) < 2; {
		stillParked()
		if time.Now().After(deadline) {
			t.Fatalf("the two polls are not parked after 20 s: %d waiting", len(s.api.Changes.polls))
		}
		time.Sleep(5 * time.Millisecond)
	}
	rec := s.do(poll("1"), s.agent)
	wantStatus(t, rec, http.StatusServiceUnavailable, "a poll beyond the cap")
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Details.Code != "EUNAVAILABLE" {
		t.Fatalf("503 body %s (%v), want the code EUNAVAILABLE", rec.Body, err)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want 1", got)
	}
	stillParked()

	cancel1() // its client went away: the poll returns, and its slot with it
	<-returned1
	rec = s.do(poll("1"), s.agent)
	wantStatus(t, rec, http.StatusOK, "a poll once a slot was freed")
	if got := rec.Header().Get("Retry-After"); got != "" {
		t.Fatalf("Retry-After %q on an admitted poll", got)
	}
	select {
	case rec := <-returned2:
		t.Fatalf("the other parked poll returned: %d %s", rec.Code, rec.Body)
	default:
	}
}

// The default cap is the one docs/runtime.md gives.
func TestChangeFeedDefaultPollCap(t *testing.T) {
	h := &Changes{}
	h.routes(mux.NewRouter(), &gate{})
	if cap(h.polls) != MaxChangePolls || MaxChangePolls != 256 {
		t.Fatalf("default cap %d (MaxChangePolls %d), want 256", cap(h.polls), MaxChangePolls)
	}
	doc, err := os.ReadFile("../../../../docs/runtime.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "At most " + strconv.Itoa(MaxChangePolls) + " polls wait at once"; !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), want) {
		t.Fatalf("docs/runtime.md does not say %q", want)
	}
}

// wakeProbe is the feed's queries, telling the test when a poll has read the log.
type wakeProbe struct {
	queries.Changes
	reads chan struct{}
}

func (p wakeProbe) After(ctx context.Context, a actor.Actor, after int64) ([]queries.Change, int64, error) {
	cs, pos, err := p.Changes.After(ctx, a, after)
	select {
	case p.reads <- struct{}{}:
	default:
	}
	return cs, pos, err
}

// A waiting poll reads the log again when this process seals an event of its
// company: with no interval to fall back on, the wake alone answers the change.
func TestChangeFeedWakesOnAppend(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ids := s.fixtures() // a secret bound to agent/x, whose key s.agent is
	appends := queries.NewAppends()
	probe := wakeProbe{Changes: queries.Changes{Store: s.store, DB: s.pool, Appends: appends}, reads: make(chan struct{}, 1)}
	s.api.Changes.Queries = probe
	s.api.Changes.interval = time.Hour
	s.route()
	req := newRequest(http.MethodGet, "/api/runtime/changes", "")
	req.URL.RawQuery = "after=" + strconv.FormatInt(s.head(), 10) + "&wait=30"
	req.Header.Set("Authorization", "Bearer "+s.agent)
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		rec := httptest.NewRecorder()
		s.router.ServeHTTP(rec, req)
		answered <- rec
	}()
	<-probe.reads // the poll read the log, found nothing, and waits
	v := providers.NewValue([]byte("rotated-value"))
	if _, err := s.commands.Secrets.Rotate(context.Background(), boardReq, commands.RotateSecret{SecretID: ids["secrets"], Value: &v}); err != nil {
		t.Fatal(err)
	}
	select {
	case rec := <-answered:
		t.Fatalf("the poll answered before the wake: %d %s", rec.Code, rec.Body)
	default:
	}
	// What the store's OnSealed hook does in serve once the sealer chained the
	// rotation's event.
	s.sealedHead()
	appends.Recorded([]eventstore.Event{{StreamID: events.SecretStream(ids["secrets"]), CompanyID: companyA}})
	select {
	case rec := <-answered:
		wantStatus(t, rec, http.StatusOK, "the woken poll")
		var got changesOut
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Changes) != 1 || got.Changes[0].SecretID != ids["secrets"] {
			t.Fatalf("the woken poll's answer %s (%v)", rec.Body, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the wake did not answer the poll")
	}
}
