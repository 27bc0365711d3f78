package natsbus

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testBus is a NATS deployment in operator mode as the tests see it: the embedded
// server or a cluster, the ledger's endpoint, and the authority issuing subscribers.
type testBus struct {
	clientURL string
	ledger    Endpoint
	authority *Authority
	servers   []*server.Server
}

// embeddedBus starts the embedded server, with subscriber JWTs valid for a day.
func embeddedBus(t *testing.T) *testBus {
	t.Helper()
	ns := startNATS(t, "127.0.0.1:0")
	a, err := LoadAuthority(ns.Auth().Config(), DefaultCredsTTL)
	if err != nil {
		t.Fatal(err)
	}
	return &testBus{clientURL: ns.ClientURL(), ledger: ns.Endpoint(), authority: a, servers: []*server.Server{ns.srv}}
}

// issue signs credentials for s as the ledger does.
func (tb *testBus) issue(t *testing.T, s Subscriber) SubscriberCredentials {
	t.Helper()
	return issueWith(t, tb, tb.authority, s)
}

func issueWith(t *testing.T, tb *testBus, a *Authority, s Subscriber) SubscriberCredentials {
	t.Helper()
	is, err := a.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	return SubscriberCredentials{URL: tb.clientURL, User: is.User, Creds: is.Creds, ExpiresAt: is.ExpiresAt, SubscriberID: s.ID,
		CompanyID: s.CompanyID, InboxPrefix: InboxPrefix(s.ID), Subjects: CompanySubjects(s.CompanyID)}
}

// testAdmin is the ledger's ConsumerAdmin plus what tests inspect as the ledger user.
type testAdmin struct{ *ConsumerAdmin }

func (tb *testBus) admin(t *testing.T) *testAdmin {
	t.Helper()
	a, err := NewConsumerAdmin(tb.ledger, len(tb.servers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &testAdmin{a}
}

func (a *testAdmin) ensure(t *testing.T, s Subscriber) {
	t.Helper()
	if err := a.Ensure(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// consumerNames lists the LEDGER stream's consumers, sorted.
func (a *testAdmin) consumerNames(t *testing.T) []string {
	t.Helper()
	var names []string
	st, err := a.js.Stream(context.Background(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	l := st.ConsumerNames(context.Background())
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func (a *testAdmin) consumerInfo(t *testing.T, name string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := a.js.Consumer(context.Background(), StreamName, name)
	if err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	return c.CachedInfo()
}

func (a *testAdmin) streamMsgs(t *testing.T) uint64 {
	t.Helper()
	s, err := a.js.Stream(context.Background(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

// waitStreamMsgs polls until the relay has published n messages.
func (a *testAdmin) waitStreamMsgs(t *testing.T, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for a.streamMsgs(t) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d of %d messages", a.streamMsgs(t), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// subConn is a raw connection with a subscriber's credentials that records the server's
// asynchronous errors (permission violations).
type subConn struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

func connectSubscriber(t *testing.T, creds SubscriberCredentials) *subConn {
	t.Helper()
	c := &subConn{errs: make(chan error, 100)}
	auth, err := creds.natsAuth()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(creds.URL, auth, nats.CustomInboxPrefix(creds.InboxPrefix),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { c.errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	c.js, _ = jetstream.New(nc, jetstream.WithDefaultTimeout(time.Second))
	return c
}

// violation waits for the server's permission violation of op ("Publish" or
// "Subscription") on subject.
func (c *subConn) violation(t *testing.T, op, subject string) {
	t.Helper()
	want := strings.ToLower(`permissions violation for ` + op + ` to "` + subject + `"`)
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-c.errs:
			if strings.Contains(strings.ToLower(err.Error()), want) {
				return
			}
		case <-timeout:
			t.Fatalf("no permission violation for %s to %q", op, subject)
		}
	}
}

// refusedRequest asserts that a request to subject gets no answer and is refused.
func (c *subConn) refusedRequest(t *testing.T, subject string, body []byte) {
	t.Helper()
	if m, err := c.nc.Request(subject, body, 500*time.Millisecond); err == nil {
		t.Fatalf("%s answered: %s", subject, m.Data)
	}
	c.violation(t, "Publish", subject)
}

// refusedSubscribe asserts that subscribing to subject is refused.
func (c *subConn) refusedSubscribe(t *testing.T, subject string) {
	t.Helper()
	sub, err := c.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	c.violation(t, "Subscription", subject)
	if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("received %s on %s", m.Data, subject)
	}
}

// pushConsumerRequest is a consumer create request whose deliver subject makes the
// server publish every message of filter to deliver.
func pushConsumerRequest(name, filter, deliver string) []byte {
	b, _ := json.Marshal(map[string]any{"stream_name": StreamName, "config": map[string]any{
		"durable_name": name, "name": name, "deliver_subject": deliver, "filter_subject": filter,
		"ack_policy": "none", "deliver_policy": "all"}})
	return b
}
