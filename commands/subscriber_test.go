package commands

import (
	"context"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// A subscriber is revoked once: revoking it again succeeds and writes nothing; another
// company's board, or another company named, finds no subscriber. A process whose
// memory did not see the revocation answers the same.
func TestRevokeSubscriber(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	issued, err := f.h().IssueSubscriber(ctx, board, "co", "follower")
	if err != nil || issued.Password == "" {
		t.Fatalf("issue: %+v %v", issued, err)
	}
	otherBoard := Request{Actor: actor.Actor{Type: actor.Board, ID: "b", Companies: []string{"co2"}}}
	for _, tc := range []struct {
		req     Request
		company string
	}{{otherBoard, "co"}, {otherBoard, "co2"}, {board, "co2"}} {
		if _, err := f.h().RevokeSubscriber(ctx, tc.req, tc.company, issued.SubscriberID); ledgererr.CodeOf(err) != ledgererr.NotFound {
			t.Fatalf("revoke by %v of %s: %v, want not found", tc.req.Actor.Companies, tc.company, err)
		}
	}
	res, err := f.h().RevokeSubscriber(ctx, board, "co", issued.SubscriberID)
	if err != nil || res.Position == 0 {
		t.Fatalf("revoke: %+v %v", res, err)
	}
	for _, h := range []handlers{f.h(), otherProcess(t, f)} {
		again, err := h.RevokeSubscriber(ctx, board, "co", issued.SubscriberID)
		if err != nil || again.Position != 0 || again.SubscriberID != issued.SubscriberID {
			t.Fatalf("revoke again: %+v %v, want ok and nothing written", again, err)
		}
	}
	evs, err := f.store.ReadStream(ctx, events.EventSubscriberStream(issued.SubscriberID), 0, 10)
	if err != nil || len(evs) != 2 || evs[1].Type != events.EventSubscriberRevoked {
		t.Fatalf("the subscriber's stream: %d events (%v), want issued and one revoked", len(evs), err)
	}
}
