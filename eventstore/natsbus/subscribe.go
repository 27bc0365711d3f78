package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// SubscriberCredentials are what POST /api/companies/{companyId}/event-subscribers
// returns: everything a runtime needs to follow its company's events.
type SubscriberCredentials struct {
	URL string `json:"url"`
	// User is the public key of the subscriber's NATS user (U...).
	User string `json:"user"`
	// Creds is a standard .creds text (user JWT and seed) for nats.UserCredentials,
	// nats.UserJWTAndSeed or `nats --creds`. It is shown once.
	Creds string `json:"creds"`
	// ExpiresAt is when the user JWT expires; a runtime needs new credentials by then.
	ExpiresAt    time.Time `json:"expiresAt"`
	SubscriberID string    `json:"subscriberId"`
	CompanyID    string    `json:"companyId"`
	InboxPrefix  string    `json:"inboxPrefix"`
	Subjects     string    `json:"subjects"`
}

// String leaves the .creds text out: it holds the user's seed.
func (c SubscriberCredentials) String() string {
	return fmt.Sprintf("subscriber %s of company %s (user %s, expires %s, creds [REDACTED])", c.SubscriberID, c.CompanyID, c.User,
		c.ExpiresAt.Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the seed either.
func (c SubscriberCredentials) GoString() string { return c.String() }

// LogValue leaves the .creds text out of logs.
func (c SubscriberCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("subscriber", c.SubscriberID), slog.String("company", c.CompanyID),
		slog.String("user", c.User), slog.String("creds", "[REDACTED]"))
}

// natsAuth is the connection option of the .creds text.
func (c SubscriberCredentials) natsAuth() (nats.Option, error) {
	token, err := jwt.ParseDecoratedJWT([]byte(c.Creds))
	if err != nil {
		return nil, fmt.Errorf("natsbus: the credentials hold no user JWT: %w", err)
	}
	kp, err := jwt.ParseDecoratedUserNKey([]byte(c.Creds))
	if err != nil {
		return nil, fmt.Errorf("natsbus: the credentials hold no user seed: %w", err)
	}
	seed, _ := kp.Seed()
	return nats.UserJWTAndSeed(token, string(seed)), nil
}

// Decode returns the envelope's payload as its typed event struct (for example
// *events.SecretVersionAddedV1), or nil for a type this version does not know.
func (e Envelope) Decode() (any, error) {
	return events.Decode(eventstore.Event{Type: e.Type, SchemaVersion: e.SchemaVersion, Position: e.Position, Payload: e.Payload})
}

// A pull waits on the consumer's leader; when that server goes away the pull goes with
// it, and Follow pulls again after two missed heartbeats. Short heartbeats make that a few
// seconds instead of the client library's default of about half a minute.
const (
	followPullExpiry = 10 * time.Second
	followHeartbeat  = 2 * time.Second
)

// Follow connects with a subscriber's credentials and hands every event of its company
// to handle, in log order, starting after the last event it acknowledged: its durable
// consumer (named by the subscriber id, created by the ledger when it issued the
// credentials) remembers where it was across disconnects and restarts. An event is
// acknowledged only after handle returns nil; an error redelivers it. Until the consumer
// exists (a runtime that starts before the ledger has created it, or after NATS lost its
// store and before the ledger restarted), Follow polls for it. Follow returns when ctx
// ends, or with an error when the server stops accepting the credentials (their JWT
// expired, or was revoked in the account): new credentials must be issued then.
func Follow(ctx context.Context, c SubscriberCredentials, handle func(Envelope) error) error {
	auth, err := c.natsAuth()
	if err != nil {
		return err
	}
	var refused refusal
	nc, err := nats.Connect(c.URL, auth, nats.CustomInboxPrefix(c.InboxPrefix),
		nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond), nats.Name("secretsledger subscriber "+c.SubscriberID),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { refused.note(err) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { refused.note(err) }))
	if err != nil {
		return fmt.Errorf("natsbus: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		cons, err := bindConsumer(ctx, js, c.SubscriberID)
		if err != nil || cons == nil {
			return refused.explain(nc, c, err)
		}
		// A message whose acknowledgement was lost (a server failing over) comes again:
		// the stream sequence tells it apart, so handle sees each event once. A
		// recreated consumer starts over, hence a fresh count per binding.
		var handled uint64
		cc, err := cons.Consume(func(m jetstream.Msg) { deliver(c, m, &handled, handle) },
			jetstream.PullExpiry(followPullExpiry), jetstream.PullHeartbeat(followHeartbeat))
		if err != nil {
			return refused.explain(nc, c, fmt.Errorf("natsbus: consume: %w", err))
		}
		select {
		case <-ctx.Done():
		case <-cc.Closed():
			// The consumer was deleted under us (the ledger recreates it at its next
			// start): bind again, after a pause so that a consumer the server keeps
			// refusing cannot make this loop spin.
			sleep(ctx, followPoll)
		}
		cc.Stop()
	}
	return nil
}

// followPoll is how often Follow looks for a consumer that does not exist yet.
const followPoll = 250 * time.Millisecond

// bindConsumer binds to the subscriber's existing consumer with js.Consumer, which needs
// only CONSUMER.INFO of that consumer (js.Stream(...).Consumer would also ask for
// STREAM.INFO, which subscribers may not). It returns a nil consumer when ctx ends first.
func bindConsumer(ctx context.Context, js jetstream.JetStream, id string) (jetstream.Consumer, error) {
	for {
		cons, err := js.Consumer(ctx, StreamName, id)
		if err == nil {
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) &&
			!errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("natsbus: bind the durable consumer %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(followPoll):
		}
	}
}

// deliver hands one pulled message to handle. A message that did not come from this
// subscriber's own consumer (its acknowledgement subject names the consumer, and only the
// server can publish with one) is dropped unacknowledged: no other client may publish into
// the inbox, but a subscriber may name any reply subject in a pull of its own consumer,
// so another subscriber that guessed an inbox subject could have its company's events
// delivered there.
//
// handled is the stream sequence of the last message handled through this binding: one
// at or below it was handled already and is only acknowledged again.
func deliver(c SubscriberCredentials, m jetstream.Msg, handled *uint64, handle func(Envelope) error) {
	md, err := m.Metadata()
	if err != nil || md.Stream != StreamName || md.Consumer != c.SubscriberID {
		return
	}
	if md.Sequence.Stream <= *handled {
		_ = m.Ack()
		return
	}
	var env Envelope
	if err := json.Unmarshal(m.Data(), &env); err != nil {
		_ = m.Term() // not an envelope: never redeliver it
		return
	}
	if err := handle(env); err != nil {
		_ = m.Nak()
		return
	}
	*handled = md.Sequence.Stream
	_ = m.Ack()
}

// refusal remembers the server's refusal of a subscriber's credentials, seen as an
// asynchronous error or as the reason of a disconnect: by the time the connection is
// closed, its last error may be a broken pipe rather than the refusal.
type refusal struct {
	mu  sync.Mutex
	err error
}

func isRefusal(err error) bool {
	return errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAuthorization)
}

func (r *refusal) note(err error) {
	if isRefusal(err) {
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
	}
}

// explain names the refusal of the credentials when that is why the connection ended
// (nats.go closes it after the server refused a reconnect twice), or their expiry when
// they have expired; otherwise it returns err.
func (r *refusal) explain(nc *nats.Conn, c SubscriberCredentials, err error) error {
	if err == nil {
		return nil
	}
	r.mu.Lock()
	why := r.err
	r.mu.Unlock()
	if last := nc.LastError(); why == nil && isRefusal(last) {
		why = last
	}
	if why == nil && !c.ExpiresAt.IsZero() && time.Now().After(c.ExpiresAt) {
		why = nats.ErrAuthExpired
	}
	if why != nil {
		return fmt.Errorf("natsbus: the subscriber's credentials are no longer accepted (expired or revoked; issue new ones): %w", why)
	}
	return err
}
