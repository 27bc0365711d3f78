package commands

// Secret commands decided on the in-memory log (memlog) with the AWS provider on its
// in-process fake: no PostgreSQL, so they run in the fast tier (-short) too. What needs
// SQL (local_encrypted's writes staged in the append, read-backs) is left to the
// integration tests on the PostgreSQL store.

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/memlog"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/awssm/awsfake"
)

var _ RecordingLog = (*memlog.Log)(nil)

// memFixture returns the handlers on a fresh memlog whose only provider is
// aws_secrets_manager on a fake.
func memFixture(t *testing.T) (*Handlers, *memlog.Log, *awsfake.Server) {
	t.Helper()
	fake := awsfake.New(t, "us-east-1")
	p, err := awssm.New(context.Background(), awssm.Config{Region: "us-east-1", Endpoint: fake.URL, DeploymentID: "dep",
		Fingerprint: func(company string, v providers.Value) string { return "fp-" + company }},
		awssm.WithCredentials(credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")), awssm.WithRetry(3, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	log := memlog.New()
	h := New(Config{Log: log, Providers: map[string]providers.Provider{providers.AWSSecretsManager: p},
		DefaultProvider: providers.AWSSecretsManager, RecoveryWindow: 24 * time.Hour, Now: time.Now})
	return h, log, fake
}

// streamTypes returns the types of a secret's events, in order.
func streamTypes(t *testing.T, log *memlog.Log, secretID string) []string {
	t.Helper()
	evs, err := log.ReadStream(context.Background(), events.SecretStream(secretID), 0, eventstore.MaxReadLimit)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	return types
}

func TestSecretLifecycleOnTheInMemoryLog(t *testing.T) {
	t.Parallel()
	h, log, fake := memFixture(t)
	ctx := context.Background()
	req := Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}

	created, err := h.Secrets.Create(ctx, req, CreateSecret{CompanyID: "co", Name: "OpenAI", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Secrets.Rotate(ctx, req, RotateSecret{SecretID: created.SecretID, Value: val("v2"), ExpectedLatestVersion: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	_, err = h.Secrets.Rotate(ctx, req, RotateSecret{SecretID: created.SecretID, Value: val("v3"), ExpectedLatestVersion: ptr(1)})
	if ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("rotation on a stale latest version: %v, want ECONFLICT", err)
	}
	if _, err := h.Secrets.Delete(ctx, req, created.SecretID); err != nil {
		t.Fatal(err)
	}
	again, err := h.Secrets.Delete(ctx, req, created.SecretID)
	if err != nil || again.Position != 0 {
		t.Fatalf("a second delete: %+v, %v; want nothing written", again, err)
	}
	_, err = h.Secrets.Rotate(ctx, req, RotateSecret{SecretID: created.SecretID, Value: val("v4")})
	if ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("rotation of a deleted secret: %v, want ENOTFOUND", err)
	}
	want := []string{events.SecretCreated, events.SecretVersionAdded, events.SecretDeleted}
	if got := streamTypes(t, log, created.SecretID); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("secret stream %v, want %v", got, want)
	}
	if n := fake.Calls("PutSecretValue"); n != 1 {
		t.Fatalf("PutSecretValue called %d times, want 1 (the rotation; the refused one writes nothing)", n)
	}
	// A company the actor cannot see is not found, and nothing is written.
	limited := Request{Actor: actor.Actor{Type: actor.Board, ID: "test", Companies: []string{"other"}}}
	if _, err := h.Secrets.Create(ctx, limited, CreateSecret{CompanyID: "co", Name: "Hidden", Value: val("x")}); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("create in a company out of scope: %v, want ENOTFOUND", err)
	}
}

// A retried create (same idempotency key) is answered from the log before the provider
// is called again: AWS would refuse, or duplicate, a second write of the same name.
func TestRetriedCreateWritesToTheProviderOnce(t *testing.T) {
	t.Parallel()
	h, _, fake := memFixture(t)
	ctx := context.Background()
	req := Request{Actor: actor.Actor{Type: actor.Board, ID: "test"},
		Idempotency: &eventstore.Idempotency{Key: "create-1", RequestHash: []byte("request-1")}}
	first, err := h.Secrets.Create(ctx, req, CreateSecret{CompanyID: "co", Name: "Stripe", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls("CreateSecret") + fake.Calls("PutSecretValue")
	again, err := h.Secrets.Create(ctx, req, CreateSecret{CompanyID: "co", Name: "Stripe", Value: val("v1")})
	if err != nil || !again.Replayed || again.SecretID != first.SecretID || again.Position != first.Position {
		t.Fatalf("retry: %+v, %v; want the first result %+v replayed", again, err, first)
	}
	if n := fake.Calls("CreateSecret") + fake.Calls("PutSecretValue"); n != calls {
		t.Fatalf("the retry called AWS's writes %d more times", n-calls)
	}
}

// Bindings on the in-memory log: a config path holds one binding, and a deleted secret
// is not bindable; the consumer's stream holds only what was accepted.
func TestBindingsOnTheInMemoryLog(t *testing.T) {
	t.Parallel()
	h, log, _ := memFixture(t)
	ctx := context.Background()
	req := Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}
	secret, err := h.Secrets.Create(ctx, req, CreateSecret{CompanyID: "co", Name: "OpenAI", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	agent := Consumer{CompanyID: "co", TargetType: "agent", TargetID: "agent-1"}
	bind := func(secretID, path string) error {
		_, err := h.Consumers.Bind(ctx, req, CreateBinding{Consumer: agent, SecretID: secretID, ConfigPath: path})
		return err
	}
	if err := bind(secret.SecretID, "OPENAI_API_KEY"); err != nil {
		t.Fatal(err)
	}
	if err := bind(secret.SecretID, "OPENAI_API_KEY"); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("a second binding at the same path: %v, want ECONFLICT", err)
	}
	if _, err := h.Secrets.Delete(ctx, req, secret.SecretID); err != nil {
		t.Fatal(err)
	}
	if err := bind(secret.SecretID, "OTHER_KEY"); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Fatalf("binding a deleted secret: %v, want ENOTFOUND", err)
	}
	evs, err := log.ReadStream(ctx, agent.Stream(), 0, eventstore.MaxReadLimit)
	if err != nil || len(evs) != 1 || evs[0].Type != events.BindingCreated {
		t.Fatalf("consumer stream %+v, %v; want the one accepted binding", evs, err)
	}
}

// A retried issue (same idempotency key) that reaches the command — its first answer
// was not kept by the HTTP layer — writes nothing and is refused: the credential minted
// for the retry was never recorded, and the first one cannot be shown again.
func TestRetriedIssueMintsNoSecondCredential(t *testing.T) {
	t.Parallel()
	log := memlog.New()
	var appended atomic.Int64
	log.OnRecorded(func(evs []eventstore.Event) { appended.Add(int64(len(evs))) })
	h := New(Config{Log: log, Credentials: testKey, Now: time.Now})
	ctx := context.Background()
	req := Request{Actor: actor.Actor{Type: actor.Board, ID: "test"},
		Idempotency: &eventstore.Idempotency{Key: "issue-1", RequestHash: []byte("request-1")}}
	issue := IssueAgentKey{Consumer: Consumer{CompanyID: "co", TargetType: "agent", TargetID: "x"}}
	first, err := h.AgentKeys.IssueKey(ctx, req, issue)
	if err != nil {
		t.Fatal(err)
	}
	head := appended.Load()
	if again, err := h.AgentKeys.IssueKey(ctx, req, issue); ledgererr.CodeOf(err) != ledgererr.Conflict || again.Token != "" {
		t.Fatalf("retried issue: %+v %v, want a conflict and no token", again, err)
	}
	if appended.Load() != head {
		t.Fatal("a retried issue appended")
	}
	if _, err := h.AgentKeys.AuthenticateAgent(ctx, first.Token); err != nil {
		t.Fatalf("the first token: %v", err)
	}
	subReq := req
	subReq.Idempotency = &eventstore.Idempotency{Key: "issue-2", RequestHash: []byte("request-2")}
	if _, err := h.Subscribers.IssueSubscriber(ctx, subReq, "co", "l"); err != nil {
		t.Fatal(err)
	}
	head = appended.Load()
	if again, err := h.Subscribers.IssueSubscriber(ctx, subReq, "co", "l"); ledgererr.CodeOf(err) != ledgererr.Conflict || again.Password != "" {
		t.Fatalf("retried subscriber issue: %+v %v, want a conflict and no password", again, err)
	}
	if appended.Load() != head {
		t.Fatal("a retried subscriber issue appended")
	}
}

// A retried rotation or restore whose first try committed gets the first result
// replayed, not the refusal a fresh decision on the secret as the first try left it
// would give: the compare-and-set's expected version is stale by its own rotation, the
// restored secret is no longer deleted, a rotated secret deleted since is not found.
// The refusal would tell the client that nothing was written.
func TestRetriedCommittedRequestIsReplayedNotRefused(t *testing.T) {
	t.Parallel()
	h, log, _ := memFixture(t)
	ctx := context.Background()
	board := Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}
	keyed := func(key string) Request {
		r := board
		r.Idempotency = &eventstore.Idempotency{Key: key, RequestHash: []byte("request-" + key)}
		return r
	}
	created, err := h.Secrets.Create(ctx, board, CreateSecret{CompanyID: "co", Name: "Retried", Value: val("v1")})
	if err != nil {
		t.Fatal(err)
	}
	id := created.SecretID
	cas := RotateSecret{SecretID: id, Value: val("v2"), ExpectedLatestVersion: ptr(1)}
	first, err := h.Secrets.Rotate(ctx, keyed("cas"), cas)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.Secrets.Rotate(ctx, keyed("cas"), cas)
	if err != nil || !again.Replayed || again.Position != first.Position {
		t.Fatalf("retried compare-and-set: %+v, %v; want the first result %+v replayed", again, err, first)
	}
	if _, err := h.Secrets.Rotate(ctx, board, cas); ledgererr.CodeOf(err) != ledgererr.Conflict {
		t.Fatalf("the same compare-and-set without the key: %v, want ECONFLICT", err)
	}

	if _, err := h.Secrets.Delete(ctx, board, id); err != nil {
		t.Fatal(err)
	}
	restored, err := h.Secrets.Restore(ctx, keyed("restore"), id)
	if err != nil {
		t.Fatal(err)
	}
	again, err = h.Secrets.Restore(ctx, keyed("restore"), id)
	if err != nil || !again.Replayed || again.Position != restored.Position {
		t.Fatalf("retried restore: %+v, %v; want the first result %+v replayed", again, err, restored)
	}

	rotated, err := h.Secrets.Rotate(ctx, keyed("rotate"), RotateSecret{SecretID: id, Value: val("v3")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Secrets.Delete(ctx, board, id); err != nil {
		t.Fatal(err)
	}
	again, err = h.Secrets.Rotate(ctx, keyed("rotate"), RotateSecret{SecretID: id, Value: val("v3")})
	if err != nil || !again.Replayed || again.Position != rotated.Position {
		t.Fatalf("retried rotation after a delete: %+v, %v; want the first result %+v replayed", again, err, rotated)
	}
	want := []string{events.SecretCreated, events.SecretVersionAdded, events.SecretDeleted, events.SecretRestored,
		events.SecretVersionAdded, events.SecretDeleted}
	if got := streamTypes(t, log, id); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("secret stream %v, want %v: a replay wrote something", got, want)
	}
}
