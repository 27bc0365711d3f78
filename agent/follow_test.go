package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// script is a change feed answering each poll with the next step; it records the
// position each poll asked from.
type script struct {
	mu    sync.Mutex
	steps []func(w http.ResponseWriter)
	asked []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.asked = append(s.asked, r.URL.Query().Get("after"))
	step := func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot) }
	if len(s.steps) > 0 {
		step, s.steps = s.steps[0], s.steps[1:]
	}
	s.mu.Unlock()
	step(w)
}

func answer(position int64, changes ...int64) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		body := fmt.Sprintf(`{"position": %d, "changes": [`, position)
		for i, p := range changes {
			if i > 0 {
				body += ","
			}
			body += fmt.Sprintf(`{"position": %d, "type": "secret.version_added", "streamKind": "secret", "secretId": "S"}`, p)
		}
		_, _ = w.Write([]byte(body + "]}"))
	}
}

func status(code int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"error": "status %d", "details": {"code": "E%d"}}`, code, code)
	}
}

// dropped is a connection closed before any answer: serve restarting. net/http asks
// again once on its own when a kept-alive connection drops, so a script drops twice.
func dropped(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// refusingOnce fails its first round trip as a refused connection would.
type refusingOnce struct {
	once sync.Once
	next http.RoundTripper
}

func (r *refusingOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	var err error
	r.once.Do(func() { err = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED} })
	if err != nil {
		return nil, err
	}
	return r.next.RoundTrip(req)
}

// Transient failures (a refused connection, a 503, a dropped connection, a 429) do not
// end Follow: it asks again from the position it had, which a server answering an older
// one does not move back.
func TestFollowResumesFromItsPosition(t *testing.T) {
	s := &script{steps: []func(http.ResponseWriter){
		answer(5, 4, 5), status(503), dropped, dropped, status(429), answer(3), answer(6), answer(8, 8),
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	hc := &http.Client{Transport: &refusingOnce{next: http.DefaultTransport}}
	var got []int64
	var retries []error
	stop := errors.New("stop")
	err := New(srv.URL, testKey, hc).Follow(context.Background(), 2, FollowOptions{Wait: 1, Retry: time.Millisecond,
		OnRetry: func(err error) { retries = append(retries, err) }}, func(c Changes) error {
		got = append(got, c.Position)
		if c.Position == 8 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Follow: %v", err)
	}
	if !slices.Equal(got, []int64{5, 8}) {
		t.Errorf("answers with changes: %v", got)
	}
	if len(retries) != 4 {
		t.Errorf("transient failures: %v", retries)
	}
	// The refused connection never reached the server; every poll after the first answer
	// asked from 5 until the server moved on (its answer of 3 did not move Follow back).
	want := []string{"2", "5", "5", "5", "5", "5", "5", "6"}
	if !slices.Equal(s.asked, want) {
		t.Errorf("polls asked from %v, want %v", s.asked, want)
	}
}

// A refused key (401 revoked, 403 frozen) ends Follow with the server's *Error; so does
// another 4xx, which asking again cannot fix; the context ends it with its error.
func TestFollowStops(t *testing.T) {
	for _, code := range []int{401, 403, 422} {
		s := &script{steps: []func(http.ResponseWriter){answer(1, 1), status(code)}}
		srv := httptest.NewServer(s)
		calls := 0
		err := New(srv.URL, testKey, nil).Follow(context.Background(), 0, FollowOptions{Retry: time.Millisecond},
			func(Changes) error { calls++; return nil })
		srv.Close()
		var e *Error
		if !errors.As(err, &e) || e.Status != code || e.Code != fmt.Sprintf("E%d", code) || Refused(err) != (code != 422) || calls != 1 {
			t.Errorf("%d: %v (calls %d)", code, err, calls)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the caller stops while a poll waits
		<-r.Context().Done()
	}))
	defer srv.Close()
	err := New(srv.URL, testKey, nil).Follow(ctx, 0, FollowOptions{}, func(Changes) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
