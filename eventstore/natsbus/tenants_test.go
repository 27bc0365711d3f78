package natsbus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The attack an outside probe found, and its relatives: subscriber A cannot create,
// update or delete a consumer (so it cannot point one at B's inbox or at an API subject),
// cannot touch the stream, cannot read any subject but its own inbox, and cannot pull
// from B's consumer. Nothing reaches B's inbox and no consumer appears.
func TestSubscriberCannotReachAnotherTenant(t *testing.T) {
	t.Parallel()
	tb := embeddedBus(t)
	h := newHarness(t, tb.ledger)
	assertConfined(t, tb, h)
}

// assertConfined runs every cross-tenant attempt against tb, whose relay is h.
func assertConfined(t *testing.T, tb *testBus, h *harness) {
	subA := subscriber("suba", "co-a")
	subB := subscriber("subb", "co-b")
	admin := tb.admin(t)
	admin.ensure(t, subA)
	admin.ensure(t, subB)
	h.append(t, "co-a", "s-a", 3)
	h.append(t, "co-b", "s-b", 3)
	admin.waitStreamMsgs(t, 6)

	sinks := watchVictimSinks(t, tb, subB)
	a := connectSubscriber(t, tb.issue(t, subA))
	victim := InboxPrefix(subB.ID) + ".victim"
	assertNoConsumerButItsOwn(t, a, subA, victim)
	assertNoDeletePurgeOrRead(t, a, subA, subB, victim)
	assertPullsItsCompany(t, a, subA)
	assertNothingChanged(t, admin, subA, subB, sinks)
}

// consumerAPI is the prefix of the JetStream consumer API's subjects.
const consumerAPI = "$JS.API.CONSUMER."

// watchVictimSinks subscribes where a cross-tenant attack would deliver: B's own inbox
// as B sees it, as the ledger sees it (no permission filter), and the purge API.
func watchVictimSinks(t *testing.T, tb *testBus, subB Subscriber) map[string]*nats.Subscription {
	t.Helper()
	b := connectSubscriber(t, tb.issue(t, subB))
	bInbox, err := b.nc.SubscribeSync(InboxPrefix(subB.ID) + ".>")
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := tb.ledger.Connect("test ledger")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ledger.Close)
	ledgerSink, err := ledger.SubscribeSync(InboxPrefix(subB.ID) + ".>")
	if err != nil {
		t.Fatal(err)
	}
	purgeSink, err := ledger.SubscribeSync("$JS.API.STREAM.PURGE." + StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.Flush(); err != nil {
		t.Fatal(err)
	}
	return map[string]*nats.Subscription{"B's inbox": bInbox, "B's inbox (as ledger)": ledgerSink, "the purge API": purgeSink}
}

// assertNoConsumerButItsOwn checks that A can create no consumer, through the raw API
// or the jetstream client: no push consumer delivering to victim or to an API subject,
// no retargeting of its own consumer to company B, no ephemeral consumer.
func assertNoConsumerButItsOwn(t *testing.T, a *subConn, subA Subscriber, victim string) {
	t.Helper()
	ctx := context.Background() // the client's default timeout (1 s) bounds each call
	for _, deliver := range []string{victim, "$JS.API.STREAM.PURGE." + StreamName} {
		for _, name := range []string{subA.ID, "evil"} {
			body := pushConsumerRequest(name, CompanySubjects("co-a"), deliver)
			a.refusedRequest(t, consumerAPI+"CREATE."+StreamName+"."+name+"."+CompanySubjects("co-a"), body)
			a.refusedRequest(t, consumerAPI+"CREATE."+StreamName+"."+name, body)
			a.refusedRequest(t, consumerAPI+"DURABLE.CREATE."+StreamName+"."+name, body)
		}
		a.refusedRequest(t, consumerAPI+"CREATE."+StreamName, pushConsumerRequest("", CompanySubjects("co-a"), deliver))
	}
	// The same through the jetstream client: push consumers, and retargeting A's own
	// consumer to company B.
	for _, cfg := range []jetstream.ConsumerConfig{
		{Durable: "evil", DeliverSubject: victim, FilterSubject: CompanySubjects("co-a"), AckPolicy: jetstream.AckNonePolicy},
		{Durable: subA.ID, DeliverSubject: "$JS.API.STREAM.PURGE." + StreamName, FilterSubject: CompanySubjects("co-a"), AckPolicy: jetstream.AckNonePolicy},
	} {
		if _, err := a.js.CreateOrUpdatePushConsumer(ctx, StreamName, cfg); err == nil {
			t.Fatalf("push consumer %+v created", cfg)
		}
	}
	if _, err := a.js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{Durable: subA.ID,
		FilterSubject: CompanySubjects("co-b"), AckPolicy: jetstream.AckExplicitPolicy}); err == nil {
		t.Fatal("A retargeted its consumer to company B")
	}
	if _, err := a.js.CreateConsumer(ctx, StreamName, jetstream.ConsumerConfig{FilterSubject: CompanySubjects("co-a")}); err == nil {
		t.Fatal("A created an ephemeral consumer")
	}
}

// assertNoDeletePurgeOrRead checks that A can delete or purge nothing, read nothing but
// its own consumer, and subscribe to nothing outside its inbox.
func assertNoDeletePurgeOrRead(t *testing.T, a *subConn, subA, subB Subscriber, victim string) {
	t.Helper()
	ctx := context.Background()
	for _, subj := range []string{
		consumerAPI + "DELETE." + StreamName + "." + subA.ID,
		consumerAPI + "DELETE." + StreamName + "." + subB.ID,
		"$JS.API.STREAM.PURGE." + StreamName,
		"$JS.API.STREAM.DELETE." + StreamName,
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + StreamName,
		"$JS.API.STREAM.MSG.GET." + StreamName,
		consumerAPI + "LIST." + StreamName,
		consumerAPI + "NAMES." + StreamName,
		consumerAPI + "INFO." + StreamName + "." + subB.ID,
		consumerAPI + "MSG.NEXT." + StreamName + "." + subB.ID,
		"ledger.co-a.secret.created", // forging an event
		victim,                       // writing into B's inbox directly
	} {
		a.refusedRequest(t, subj, []byte(`{}`))
	}
	if err := a.js.DeleteConsumer(ctx, StreamName, subA.ID); err == nil {
		t.Fatal("A deleted its consumer")
	}
	if err := a.js.DeleteStream(ctx, StreamName); err == nil {
		t.Fatal("A deleted the stream")
	}
	if _, err := a.js.Consumer(ctx, StreamName, subB.ID); err == nil {
		t.Fatal("A bound to B's consumer")
	}
	for _, subj := range []string{"ledger.>", CompanySubjects("co-a"), CompanySubjects("co-b"), InboxPrefix(subB.ID) + ".>",
		victim, "$JS.API.>", ">"} {
		a.refusedSubscribe(t, subj)
	}
}

// assertPullsItsCompany checks that what A may do still works: bind its own consumer
// and pull its company's events.
func assertPullsItsCompany(t *testing.T, a *subConn, subA Subscriber) {
	t.Helper()
	ctx := context.Background()
	own, err := a.js.Consumer(ctx, StreamName, subA.ID)
	if err != nil {
		t.Fatalf("A binds its own consumer: %v", err)
	}
	batch, err := own.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		if !strings.HasPrefix(m.Subject(), "ledger.co-a.") {
			t.Fatalf("A pulled %s", m.Subject())
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 || batch.Error() != nil {
		t.Fatalf("A pulled %d messages: %v", n, batch.Error())
	}
}

// assertNothingChanged checks that nothing was created, changed, purged or delivered.
func assertNothingChanged(t *testing.T, admin *testAdmin, subA, subB Subscriber, sinks map[string]*nats.Subscription) {
	t.Helper()
	if got := admin.consumerNames(t); !slices.Equal(got, []string{subA.ID, subB.ID}) {
		t.Fatalf("consumers %v", got)
	}
	for _, s := range []Subscriber{subA, subB} {
		ci := admin.consumerInfo(t, s.ID)
		if ci.Config.DeliverSubject != "" || ci.Config.FilterSubject != CompanySubjects(s.CompanyID) {
			t.Fatalf("consumer %s changed: %+v", s.ID, ci.Config)
		}
	}
	if ci := admin.consumerInfo(t, subB.ID); ci.Delivered.Consumer != 0 {
		t.Fatalf("B's consumer delivered %d messages; B never pulled", ci.Delivered.Consumer)
	}
	if got := admin.streamMsgs(t); got != 6 {
		t.Fatalf("the stream holds %d messages, want 6", got)
	}
	for name, sink := range sinks {
		if m, err := sink.NextMsg(300 * time.Millisecond); err == nil {
			t.Fatalf("%s received %s: %s", name, m.Subject, m.Data)
		}
	}
}

// A subscriber may name any reply subject when it pulls from its own consumer, so the
// server delivers its company's events wherever it says. Another runtime's Follow never
// takes such a message for its own, even when the attacker knows its inbox subject.
func TestFollowDropsWhatAnotherSubscriberPullsIntoItsInbox(t *testing.T) {
	t.Parallel()
	subA := subscriber("spoofa", "co-a")
	subB := subscriber("spoofb", "co-b")
	tb := embeddedBus(t)
	admin := tb.admin(t)
	admin.ensure(t, subA)
	admin.ensure(t, subB)
	h := newHarness(t, tb.ledger)
	credsB := tb.issue(t, subB)
	h.append(t, "co-a", "s-a", 2)
	h.append(t, "co-b", "s-b", 2)

	got := make(chan Envelope, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, credsB, func(e Envelope) error { got <- e; return nil })
	}()
	defer func() { cancel(); <-done }()
	for i := range 2 {
		select {
		case e := <-got:
			if e.CompanyID != "co-b" {
				t.Fatalf("B received %+v", e)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("B received %d of 2 events", i)
		}
	}
	// The attacker's best case: it learnt B's pull inbox (here from the server itself).
	connz, err := tb.servers[0].Connz(&server.ConnzOptions{Subscriptions: true, User: credsB.User})
	if err != nil {
		t.Fatal(err)
	}
	var inboxes []string
	for _, c := range connz.Conns {
		for _, s := range c.Subs {
			if !strings.ContainsAny(s, "*>") {
				inboxes = append(inboxes, s)
			}
		}
	}
	if len(inboxes) == 0 {
		t.Fatalf("no pull inbox of B in %+v", connz.Conns)
	}
	a := connectSubscriber(t, tb.issue(t, subA))
	for _, inbox := range inboxes {
		if err := a.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+StreamName+"."+subA.ID, inbox, []byte(`{"batch":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	// The server did deliver A's event into B's inbox ...
	deadline := time.Now().Add(10 * time.Second)
	for admin.consumerInfo(t, subA.ID).NumAckPending != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("A's pull was not delivered: %+v", admin.consumerInfo(t, subA.ID))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ... and B's Follow neither handled nor acknowledged it.
	select {
	case e := <-got:
		t.Fatalf("B's Follow handled %+v", e)
	case <-time.After(500 * time.Millisecond):
	}
	if ci := admin.consumerInfo(t, subA.ID); ci.AckFloor.Consumer != 0 || ci.NumAckPending != 1 {
		t.Fatalf("A's message was acknowledged by B: %+v", ci)
	}
}

// ConsumerAdmin.Ensure creates the stream when the relay has not yet, creates the pull
// consumer, is idempotent, and recreates a consumer that was lost.
func TestConsumerAdminEnsure(t *testing.T) {
	t.Parallel()
	s := subscriber("ensure1", "co-a")
	admin := embeddedBus(t).admin(t)
	admin.ensure(t, s)
	admin.ensure(t, s)
	st, err := admin.js.Stream(context.Background(), StreamName)
	if err != nil {
		t.Fatalf("the stream was not created: %v", err)
	}
	if cfg := st.CachedInfo().Config; !slices.Equal(cfg.Subjects, []string{EventSubjects}) || cfg.Duplicates != 2*time.Minute {
		t.Fatalf("stream config %+v", cfg)
	}
	cfg := admin.consumerInfo(t, s.ID).Config
	if cfg.Durable != s.ID || cfg.FilterSubject != "ledger.co-a.>" || cfg.DeliverSubject != "" || cfg.AckPolicy != jetstream.AckExplicitPolicy ||
		cfg.DeliverPolicy != jetstream.DeliverAllPolicy || cfg.MaxAckPending != 1 {
		t.Fatalf("consumer config %+v", cfg)
	}
	if err := admin.js.DeleteConsumer(context.Background(), StreamName, s.ID); err != nil {
		t.Fatal(err)
	}
	admin.ensure(t, s)
	if got := admin.consumerNames(t); !slices.Equal(got, []string{s.ID}) {
		t.Fatalf("consumers after a lost one was ensured: %v", got)
	}
	if err := admin.Ensure(context.Background(), Subscriber{ID: "bad", CompanyID: "co.a"}); err == nil {
		t.Fatal("a company id with a dot was accepted")
	}
}

// Revoking a subscriber (as the ledger does: the revocation pushed into the account JWT,
// then the consumer deleted) leaves no consumer and no way to connect.
func TestRevokedSubscriberLosesConsumerAndConnection(t *testing.T) {
	t.Parallel()
	assertRevocation(t, embeddedBus(t))
}

func assertRevocation(t *testing.T, tb *testBus) {
	subA := subscriber("revoked1", "co-a")
	subB := subscriber("kept1", "co-b")
	admin := tb.admin(t)
	admin.ensure(t, subA)
	admin.ensure(t, subB)
	credsA, credsB := tb.issue(t, subA), tb.issue(t, subB)
	a := connectSubscriber(t, credsA)
	b := connectSubscriber(t, credsB)
	if _, err := a.js.Consumer(context.Background(), StreamName, subA.ID); err != nil {
		t.Fatalf("A binds its consumer before the revocation: %v", err)
	}

	if err := tb.authority.Revoke(context.Background(), tb.ledger, nil, subA.ID); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(context.Background(), subA.ID); err != nil {
		t.Fatal(err)
	}
	if got := admin.consumerNames(t); !slices.Equal(got, []string{subB.ID}) {
		t.Fatalf("consumers after revoke: %v", got)
	}
	if err := admin.Delete(context.Background(), subA.ID); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	waitRefused(t, a, credsA, "revoked")
	if !b.nc.IsConnected() {
		t.Fatal("the revocation of A closed B's connection")
	}
	if _, err := b.js.Consumer(context.Background(), StreamName, subB.ID); err != nil {
		t.Fatalf("B after A's revocation: %v", err)
	}
}

// waitRefused polls until c's connection is closed by the server and a new connection
// with creds is refused.
func waitRefused(t *testing.T, c *subConn, creds SubscriberCredentials, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling the client's state after the server cut it off
	}
	if c.nc.IsConnected() {
		t.Fatalf("the %s subscriber's connection is still open", what)
	}
	auth, err := creds.natsAuth()
	if err != nil {
		t.Fatal(err)
	}
	// JWT expiry counts in whole seconds: a connection in the second of expiry may still
	// be admitted, so poll for the refusal.
	for {
		nc, err := nats.Connect(creds.URL, auth, nats.NoReconnect())
		if err != nil {
			if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") &&
				!strings.Contains(strings.ToLower(err.Error()), "expired") {
				t.Fatalf("connect of a %s subscriber: %v", what, err)
			}
			return
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatalf("a %s subscriber can still connect", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Credentials stop working when their JWT expires: the server closes the connection and
// refuses new ones.
func TestExpiredSubscriberIsRefused(t *testing.T) {
	t.Parallel()
	assertExpiry(t, embeddedBus(t))
}

func assertExpiry(t *testing.T, tb *testBus) {
	s := subscriber("expiring1", "co-a")
	tb.admin(t).ensure(t, s)
	short := *tb.authority
	short.ttl = 2 * time.Second
	creds := issueWith(t, tb, &short, s)
	if until := time.Until(creds.ExpiresAt); until > 3*time.Second || until < 0 {
		t.Fatalf("expires in %s", until)
	}
	c := connectSubscriber(t, creds)
	if _, err := c.js.Consumer(context.Background(), StreamName, s.ID); err != nil {
		t.Fatalf("binds its consumer before expiry: %v", err)
	}
	waitRefused(t, c, creds, "expired")
	if time.Now().Before(creds.ExpiresAt) {
		t.Fatalf("refused before its expiry %s", creds.ExpiresAt)
	}
}

// When its consumer is deleted under it and later recreated (the ledger's start after NATS
// lost its store), Follow binds to the new consumer and goes on.
func TestFollowRebindsToARecreatedConsumer(t *testing.T) {
	t.Parallel()
	s := subscriber("rebind1", "co-a")
	tb := embeddedBus(t)
	admin := tb.admin(t)
	admin.ensure(t, s)
	h := newHarness(t, tb.ledger)
	creds := tb.issue(t, s)
	got := make(chan Envelope, 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, creds, func(e Envelope) error { got <- e; return nil }) }()
	defer func() { cancel(); <-done }()
	next := func(what string) Envelope {
		t.Helper()
		select {
		case e := <-got:
			return e
		case <-time.After(20 * time.Second):
			t.Fatalf("no event %s", what)
			return Envelope{}
		}
	}
	h.append(t, "co-a", "s-a", 1)
	if e := next("before the deletion"); e.StreamVersion != 1 {
		t.Fatalf("first event %+v", e)
	}
	if err := admin.Delete(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	// nats-server removes a deleted consumer's files after it answers; creating one of
	// the same name at once can meet that removal half done. Poll until it takes.
	deadline := time.Now().Add(10 * time.Second)
	for err := admin.Ensure(context.Background(), s); err != nil; err = admin.Ensure(context.Background(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("recreate the consumer: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling the server's cleanup
	}
	// The new consumer starts at the beginning of the stream.
	h.append(t, "co-a", "s-a", 1)
	for want := int64(1); want <= 2; want++ {
		if e := next("after the consumer was recreated"); e.StreamVersion != want {
			t.Fatalf("after recreation: event %+v, want stream version %d", e, want)
		}
	}
}
