package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// SubscriberCredentials are what POST /api/companies/{companyId}/event-subscribers
// returns: everything a runtime needs to follow its company's events.
type SubscriberCredentials struct {
	URL          string `json:"url"`
	User         string `json:"user"`
	Password     string `json:"password"`
	SubscriberID string `json:"subscriberId"`
	CompanyID    string `json:"companyId"`
	InboxPrefix  string `json:"inboxPrefix"`
	Subjects     string `json:"subjects"`
}

// Decode returns the envelope's payload as its typed event struct (for example
// *events.SecretVersionAddedV1), or nil for a type this version does not know.
func (e Envelope) Decode() (any, error) {
	return events.Decode(eventstore.Event{Type: e.Type, SchemaVersion: e.SchemaVersion, Position: e.Position, Payload: e.Payload})
}

// Follow connects with a subscriber's credentials and hands every event of its company
// to handle, in log order, starting after the last event it acknowledged: its durable
// consumer (named by the subscriber id) remembers where it was across disconnects and
// restarts. An event is acknowledged only after handle returns nil; an error redelivers
// it. Follow returns when ctx ends.
func Follow(ctx context.Context, c SubscriberCredentials, handle func(Envelope) error) error {
	nc, err := nats.Connect(c.URL, nats.UserInfo(c.User, c.Password), nats.CustomInboxPrefix(c.InboxPrefix),
		nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond), nats.Name("secretsledger subscriber "+c.SubscriberID))
	if err != nil {
		return fmt.Errorf("natsbus: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       c.SubscriberID,
		FilterSubject: c.Subjects,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 1, // one at a time keeps the callback in log order
		AckWait:       30 * time.Second,
	}
	var cons jetstream.Consumer
	for {
		cons, err = js.CreateOrUpdateConsumer(ctx, StreamName, cfg)
		if err == nil {
			break
		}
		// The relay creates the stream with the ledger's first published event; a
		// runtime that starts earlier waits for it.
		if !errors.Is(err, jetstream.ErrStreamNotFound) || ctx.Err() != nil {
			return fmt.Errorf("natsbus: create the durable consumer: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var env Envelope
		if err := json.Unmarshal(m.Data(), &env); err != nil {
			_ = m.Term() // not an envelope: never redeliver it
			return
		}
		if err := handle(env); err != nil {
			_ = m.Nak()
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return fmt.Errorf("natsbus: consume: %w", err)
	}
	defer cc.Stop()
	<-ctx.Done()
	return nil
}
