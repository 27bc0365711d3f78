package commands

import (
	"context"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// A bind retried with its Idempotency-Key after its first attempt committed (the
// answer lost) is answered with the first attempt's binding, not 409 "already has a
// binding at": the decision saw the path taken by the request itself and refused
// before the append could replay it. Another request on the taken path is still 409.
func TestARetriedBindIsAnsweredFromItsFirstAttempt(t *testing.T) {
	t.Parallel()
	h, _, _ := memFixture(t)
	ctx := context.Background()
	plain := Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}
	secret, err := h.Secrets.Create(ctx, plain, CreateSecret{CompanyID: "co", Name: "Retried", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	bind := CreateBinding{Consumer: Consumer{CompanyID: "co", TargetType: "agent", TargetID: "a"}, SecretID: secret.SecretID,
		ConfigPath: "env.RETRIED"}
	req := plain
	req.Idempotency = &eventstore.Idempotency{Key: "bind-1", RequestHash: []byte("bind-request-1")}
	first, err := h.Consumers.Bind(ctx, req, bind)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.Consumers.Bind(ctx, req, bind)
	if err != nil || again.BindingID != first.BindingID || again.Position != first.Position {
		t.Fatalf("retry: %+v, %v; want the first result %+v", again, err, first)
	}
	other := plain
	other.Idempotency = &eventstore.Idempotency{Key: "bind-2", RequestHash: []byte("bind-request-2")}
	if _, err := h.Consumers.Bind(ctx, other, bind); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("another request on the taken path: %v, want ECONFLICT", err)
	}
	if _, err := h.Consumers.Bind(ctx, plain, bind); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("a request without a key on the taken path: %v, want ECONFLICT", err)
	}
}
