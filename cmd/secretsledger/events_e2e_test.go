package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/secretsledger/secretsledger/eventstore/natsbus"
)

// follow runs natsbus.Follow with creds in the background and collects envelopes.
type follower struct {
	mu   sync.Mutex
	got  []natsbus.Envelope
	stop func()
}

func startFollower(t *testing.T, creds natsbus.SubscriberCredentials) *follower {
	t.Helper()
	f := &follower{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- natsbus.Follow(ctx, creds, func(e natsbus.Envelope) error {
			f.mu.Lock()
			f.got = append(f.got, e)
			f.mu.Unlock()
			return nil
		})
	}()
	f.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("follow: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			f.stop()
		}
	})
	return f
}

func (f *follower) events() []natsbus.Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]natsbus.Envelope(nil), f.got...)
}

// waitFor polls until cond holds on the follower's events.
func (f *follower) waitFor(t *testing.T, what string, cond func([]natsbus.Envelope) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(f.events()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %d events", what, len(f.events()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasType(typ, streamID string) func([]natsbus.Envelope) bool {
	return func(evs []natsbus.Envelope) bool {
		for _, e := range evs {
			if e.Type == typ && e.StreamID == streamID {
				return true
			}
		}
		return false
	}
}

func (c *apiClient) subscriber(t *testing.T, company string) natsbus.SubscriberCredentials {
	t.Helper()
	var creds natsbus.SubscriberCredentials
	if err := json.Unmarshal(c.must(201, "POST", "/api/companies/"+company+"/event-subscribers", `{"label": "test"}`).body, &creds); err != nil {
		t.Fatal(err)
	}
	return creds
}

func TestRotationReachesOnlyTheCompanysSubscribers(t *testing.T) {
	t.Parallel()
	rotationReachesOnlyTheCompanysSubscribers(t, onOneProcess(t))
}

// rotationReachesOnlyTheCompanysSubscribers: a company's subscriber receives its
// company's events and no other's, holding no value or credential hash; the events API
// and `events tail` give the same envelopes from the log; issuing a subscriber creates
// its pull consumer at once, revoking deletes it and shuts its credentials out.
func rotationReachesOnlyTheCompanysSubscribers(t *testing.T, tg *apiTarget) {
	companyA, companyB := tg.companies()
	api := tg.client(t, tg.token)
	subA := startFollower(t, api.subscriber(t, companyA))
	subB := startFollower(t, api.subscriber(t, companyB))

	subscribersReceiveOnlyTheirCompanysEventsStep(t, api, subA, subB, companyA, companyB)
	sameEnvelopesFromTheLogStep(t, tg, api, companyA)
	revokingClosesTheSubscriberOutStep(t, tg, api, subA, companyA)
}

// subscribersReceiveOnlyTheirCompanysEventsStep: each subscriber receives its company's
// events and no other's, holding no value or credential hash.
func subscribersReceiveOnlyTheirCompanysEventsStep(t *testing.T, api *apiClient, subA, subB *follower, companyA, companyB string) {
	t.Helper()
	value := canary("nats")
	id := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "A key", "value": "`+value+`"}`).json(t)["id"].(string)
	api.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "`+value+`-2"}`)
	subA.waitFor(t, "secret.version_added at A's subscriber", hasType("secret.version_added", "secret-"+id))
	idB := api.must(201, "POST", "/api/companies/"+companyB+"/secrets", `{"name": "B key", "value": "v"}`).json(t)["id"].(string)
	subB.waitFor(t, "B's own secret.created", hasType("secret.created", "secret-"+idB))
	for _, ev := range subB.events() {
		if ev.CompanyID != companyB {
			t.Fatalf("B's subscriber received %s of company %s", ev.Type, ev.CompanyID)
		}
	}
	for _, ev := range subA.events() {
		if ev.CompanyID != companyA {
			t.Fatalf("A's subscriber received %s of company %s", ev.Type, ev.CompanyID)
		}
		if strings.Contains(string(ev.Payload), value) || strings.Contains(string(ev.Payload), "passwordHash") {
			t.Fatal("a published envelope holds a secret value or a credential hash")
		}
	}
	if p, err := subA.events()[len(subA.events())-1].Decode(); err != nil || p == nil {
		t.Fatalf("typed payload: %v %v", p, err)
	}
}

// sameEnvelopesFromTheLogStep: the same envelopes from the log, over HTTP and the CLI.
func sameEnvelopesFromTheLogStep(t *testing.T, tg *apiTarget, api *apiClient, companyA string) {
	t.Helper()
	logEvents := api.must(200, "GET", "/api/companies/"+companyA+"/events?after=0", "").list(t)
	var types []string
	for _, ev := range logEvents {
		types = append(types, ev["type"].(string))
		if strings.Contains(fmt.Sprint(ev["payload"]), "passwordHash") {
			t.Fatalf("a credential hash left the log: %v", ev)
		}
	}
	if strings.Join(types, ",") != "event_subscriber.issued,secret.created,secret.version_added" {
		t.Fatalf("events API types: %v", types)
	}
	code, out, errOut := tg.run(t, "events", "tail", "--company", companyA)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 3 || !strings.Contains(lines[2], `"secret.version_added"`) {
		t.Fatalf("events tail: %d %q %s", code, out, errOut)
	}
	code, out, _ = tg.run(t, "events", "tail", "--company", companyA, "--from-position", fmt.Sprint(logEvents[1]["position"]))
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "version_added") {
		t.Fatalf("events tail --from-position: %q", out)
	}
}

// revokingClosesTheSubscriberOutStep: issuing creates the pull consumer at once; revoking
// deletes it at once and the credentials stop working.
func revokingClosesTheSubscriberOutStep(t *testing.T, tg *apiTarget, api *apiClient, subA *follower, companyA string) {
	t.Helper()
	subA.stop()
	creds := api.subscriber(t, companyA)
	js := tg.ledgerJetStream(t)
	c, err := js.Consumer(context.Background(), natsbus.StreamName, creds.SubscriberID)
	if err != nil {
		t.Fatalf("no consumer right after issue: %v", err)
	}
	if cfg := c.CachedInfo().Config; cfg.FilterSubject != "ledger."+companyA+".>" || cfg.DeliverSubject != "" || cfg.AckPolicy != jetstream.AckExplicitPolicy {
		t.Fatalf("consumer config %+v", cfg)
	}
	api.must(200, "DELETE", "/api/companies/"+companyA+"/event-subscribers/"+creds.SubscriberID, "")
	if _, err := js.Consumer(context.Background(), natsbus.StreamName, creds.SubscriberID); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer after revoke: %v", err)
	}
	// The answer's .creds text is a standard file for nats.UserCredentials; the ledger
	// holds the operator key, so revoking closed the user out too. An embedded server
	// takes the revocation before the answer; an external one gets the account's claims
	// update pushed, so the test polls.
	credsFile := filepath.Join(t.TempDir(), "sub.creds")
	if err := os.WriteFile(credsFile, []byte(creds.Creds), 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		nc, err := nats.Connect(creds.URL, nats.UserCredentials(credsFile), nats.NoReconnect())
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("revoked subscriber credentials still connect")
		}
	}
	fresh := api.subscriber(t, companyA)
	if err := os.WriteFile(credsFile, []byte(fresh.Creds), 0o600); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(fresh.URL, nats.UserCredentials(credsFile), nats.CustomInboxPrefix(fresh.InboxPrefix))
	if err != nil {
		t.Fatalf("fresh credentials through nats.UserCredentials: %v", err)
	}
	defer nc.Close()
	fjs, _ := jetstream.New(nc)
	if _, err := fjs.Consumer(context.Background(), natsbus.StreamName, fresh.SubscriberID); err != nil {
		t.Fatalf("fresh credentials bind their consumer: %v", err)
	}
	if logs := tg.logs(); strings.Contains(logs, "NKEY SEED") || strings.Contains(logs, strings.Split(fresh.Creds, "\n")[1]) {
		t.Fatal("subscriber credentials reached the logs")
	}
}

// ledgerJetStream connects to the instance's embedded NATS as the ledger user.
func (e *instanceEnv) ledgerJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	creds := filepath.Join(e.home, "instances", "default", "nats", "auth", "ledger.creds")
	nc, err := nats.Connect("nats://"+e.natsAddr, nats.UserCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// After NATS lost its JetStream store, serve recreates the consumer of every active
// subscriber at start (and of no revoked one), and the subscriber follows from the start
// of what the relay publishes again.
func TestServeRecreatesLostConsumers(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	kept := api.subscriber(t, companyA)
	revoked := api.subscriber(t, companyB)
	api.must(200, "DELETE", "/api/companies/"+companyB+"/event-subscribers/"+revoked.SubscriberID, "")
	s.stop(t)
	if err := os.RemoveAll(filepath.Join(e.home, "instances", "default", "nats", "jetstream")); err != nil {
		t.Fatal(err)
	}

	s = e.serve(t)
	e.waitReady(t, s)
	js := e.ledgerJetStream(t)
	if _, err := js.Consumer(context.Background(), natsbus.StreamName, kept.SubscriberID); err != nil {
		t.Fatalf("the active subscriber's consumer was not recreated: %v", err)
	}
	if _, err := js.Consumer(context.Background(), natsbus.StreamName, revoked.SubscriberID); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("the revoked subscriber's consumer: %v", err)
	}
	f := startFollower(t, kept)
	id := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "after restart", "value": "v"}`).json(t)["id"].(string)
	f.waitFor(t, "secret.created after the restart", hasType("secret.created", "secret-"+id))
}

// With NATS_URL pointing at nothing, serve starts and commits; /readyz says degraded;
// when NATS appears the relay catches up.
func TestNATSDownAtStart(t *testing.T) {
	t.Parallel()
	natsAddr := freeAddr(t)
	natsDir := t.TempDir()
	auth, err := natsbus.EnsureInstanceAuth(natsDir)
	if err != nil {
		t.Fatal(err)
	}
	e := newInstance(t)
	e.vars = externalNATS("nats://"+natsAddr, auth)
	s := e.serve(t)
	e.waitReady(t, s)
	ready := e.readyz(t)
	if ready["status"] != "degraded" || ready["checks"].(map[string]any)["nats"].(map[string]any)["ok"] != false {
		t.Fatalf("readyz with NATS down: %v", ready)
	}
	api := e.client(t, e.instanceToken(t))
	for i := range 5 {
		api.must(201, "POST", "/api/companies/"+companyA+"/secrets", fmt.Sprintf(`{"name": "s%d", "value": "v"}`, i))
	}
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{Addr: natsAddr, Dir: natsDir})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	positions := consumeAll(t, ns.Endpoint(), 5)
	if len(positions) != 5 {
		t.Fatalf("received %v", positions)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.readyz(t)["status"] != "ready" {
		if time.Now().After(deadline) {
			t.Fatalf("readyz did not recover: %v", e.readyz(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *instanceEnv) readyz(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + e.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// externalNATS is the environment of a ledger on an existing NATS (here a natsbus
// embedded server standing in for one) in operator mode, with every key.
func externalNATS(url string, auth natsbus.InstanceAuth) []string {
	c := auth.Config()
	return []string{"NATS_URL=" + url, "LEDGER_NATS_CREDS_FILE=" + auth.LedgerCredsFile(), "LEDGER_NATS_ACCOUNT=" + c.Account,
		"LEDGER_NATS_ACCOUNT_SEED_FILE=" + c.AccountSeedFile, "LEDGER_NATS_OPERATOR_SEED_FILE=" + c.OperatorSeedFile,
		"LEDGER_NATS_SYSTEM_CREDS_FILE=" + c.SystemCredsFile}
}

// With NATS_URL and the signing key of the ledger's account, serve issues subscriber
// JWTs on that NATS: a runtime follows its company with them, and revoking (with the
// operator key) cuts it off. A seed file others may read stops serve with exit code 2.
func TestExternalNATSIssuesSubscriberJWTs(t *testing.T) {
	t.Parallel()
	ns, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{Addr: "127.0.0.1:0", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	e := newInstance(t)
	e.vars = externalNATS(ns.ClientURL(), ns.Auth())
	seed := ns.Auth().Config().AccountSeedFile
	if err := os.Chmod(seed, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := e.run(t, "serve"); code != 2 || !strings.Contains(errOut, "chmod 600") {
		t.Fatalf("serve with a readable seed file: exit %d\n%s", code, errOut)
	}
	if err := os.Chmod(seed, 0o600); err != nil {
		t.Fatal(err)
	}
	s := e.serve(t)
	e.waitReady(t, s)
	api := e.client(t, e.instanceToken(t))
	creds := api.subscriber(t, companyA)
	if creds.URL != ns.ClientURL() || !strings.HasPrefix(creds.User, "U") || time.Until(creds.ExpiresAt) < 23*time.Hour {
		t.Fatalf("credentials %v", creds)
	}
	f := startFollower(t, creds)
	id := api.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "ext", "value": "v"}`).json(t)["id"].(string)
	f.waitFor(t, "secret.created over the external NATS", hasType("secret.created", "secret-"+id))
	f.stop()

	credsFile := filepath.Join(t.TempDir(), "sub.creds")
	if err := os.WriteFile(credsFile, []byte(creds.Creds), 0o600); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(creds.URL, nats.UserCredentials(credsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	api.must(200, "DELETE", "/api/companies/"+companyA+"/event-subscribers/"+creds.SubscriberID, "")
	deadline := time.Now().Add(10 * time.Second)
	for nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("the revoked subscriber's connection is still open")
		}
		time.Sleep(20 * time.Millisecond) // polling the client's state after the claims update
	}
	if c, err := nats.Connect(creds.URL, nats.UserCredentials(credsFile), nats.NoReconnect()); err == nil {
		c.Close()
		t.Fatal("revoked subscriber credentials still connect")
	}
}
