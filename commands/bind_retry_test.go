package commands

import (
	"context"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/memlog"
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

// unreachableLog is a log whose stream reads fail as with the database unreachable.
type unreachableLog struct{ *memlog.Log }

var errUnreachable = ledgererr.New(ledgererr.Unavailable, "event store unavailable")

func (unreachableLog) ReadStream(context.Context, string, int64, int) ([]eventstore.Event, error) {
	return nil, errUnreachable
}

func (unreachableLog) ReadStreams(context.Context, map[string]int64) (map[string][]eventstore.Event, error) {
	return nil, errUnreachable
}

// A bind whose secret cannot be read (the database unreachable) is refused as
// unavailable (503, retry), not as a secret that does not exist (404, which a client
// takes as final): the read's failure used to be reported as "secret not found".
func TestABindWhoseSecretCannotBeReadIsUnavailable(t *testing.T) {
	t.Parallel()
	h, log, _ := memFixture(t)
	ctx := context.Background()
	plain := Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}
	secret, err := h.Secrets.Create(ctx, plain, CreateSecret{CompanyID: "co", Name: "Unread", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	cold := New(Config{Log: unreachableLog{log}, RecoveryWindow: 24 * time.Hour, Now: time.Now}) // a memory that never saw it
	_, err = cold.Consumers.Bind(ctx, plain, CreateBinding{Consumer: Consumer{CompanyID: "co", TargetType: "agent", TargetID: "a"},
		SecretID: secret.SecretID, ConfigPath: "env.UNREAD"})
	if ledgererr.CodeOf(err) != ledgererr.Unavailable {
		t.Fatalf("bind while the secret cannot be read: %v, want EUNAVAILABLE", err)
	}
}
