package natsbus

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Follow stops, saying why, when the server no longer accepts its credentials: retrying
// an expired or revoked JWT forever would leave a runtime waiting without knowing.
func TestFollowStopsWhenItsCredentialsExpire(t *testing.T) {
	t.Parallel()
	tb := embeddedBus(t)
	s := subscriber("expiring2", "co-a")
	tb.admin(t).ensure(t, s)
	short := *tb.authority
	short.ttl = 2 * time.Second
	creds := issueWith(t, tb, &short, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, creds, func(Envelope) error { return nil }) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no longer accepted") {
			t.Fatalf("Follow after expiry: %v", err)
		}
		if time.Now().Before(creds.ExpiresAt) {
			t.Fatalf("stopped before the expiry %s: %v", creds.ExpiresAt, err)
		}
	case <-ctx.Done():
		t.Fatal("Follow kept going 28 s after its credentials expired")
	}
}
