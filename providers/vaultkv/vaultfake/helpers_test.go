package vaultfake_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

// client returns a real Vault client for the fake, with no retries (a retry would hide
// the status a test asserts) and nothing taken from the process environment.
func client(t *testing.T, f *vaultfake.Fake, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: f.URL()})
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	c.ClearNamespace()
	c.SetHeaders(http.Header{})
	if token != "" {
		c.SetToken(token)
	}
	return c
}

// status returns the HTTP status of a Vault API error (0 when err is no ResponseError).
func status(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// errorsOf returns the errors list of a Vault API error.
func errorsOf(err error) []string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.Errors
	}
	return nil
}

func wantStatus(t *testing.T, err error, want int) {
	t.Helper()
	if got := status(err); got != want {
		t.Fatalf("status %d (%v), want %d", got, err, want)
	}
}

// testClock is a clock a test moves by hand; the fake reads it from its handlers.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
