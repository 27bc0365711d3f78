package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// streamConfig is the LEDGER stream. The relay and ConsumerAdmin both create it (whoever
// comes first), so it is written once, here.
// replicas is the stream's replication factor (1 on a single server, 3 on a cluster);
// 0 means 1.
func streamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:     StreamName,
		Replicas: max(replicas, 1),
		// Every event subject has a company token (ledger.<companyId>.…); checkpoints
		// (ledger.checkpoints) are left out, so the relay is the only writer and each
		// event's stream sequence follows its predecessor's (see publishInOrder).
		Subjects:  []string{EventSubjects},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		// Repeats within the window are dropped by event id. A new relay leader resumes
		// from the cursor the old one committed after its last acknowledged page, within
		// seconds; the server keeps every id of the window in memory, so the window is
		// not longer than a failover needs.
		Duplicates: 2 * time.Minute,
	}
}

// ensureStream creates (or updates) the LEDGER stream. A server that has just started
// (its account's JetStream still being set up) or that is losing a cluster node may
// refuse it for a moment, and the relay and ConsumerAdmin may create it at the same
// time; so a refusal is tried again a few times before it is an error.
func ensureStream(ctx context.Context, js jetstream.JetStream, replicas int) error {
	return retried(ctx, func() error {
		_, err := js.CreateOrUpdateStream(ctx, streamConfig(replicas))
		return err
	}, "create stream %s", StreamName)
}

// ensureAttempts bounds the tries of retried (about 1.5 s of waiting in all).
const ensureAttempts = 6

// retried runs create until it succeeds, ensureAttempts times at most, with a growing
// pause: the server may refuse a stream or consumer for a moment (its account's
// JetStream still being set up, a cluster node being lost, a consumer's store being
// created under load). Its last error is returned, prefixed with what.
func retried(ctx context.Context, create func() error, what string, args ...any) error {
	var err error
	for attempt := range ensureAttempts {
		if err = create(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsbus: "+what+": %w", append(args, err)...)
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return fmt.Errorf("natsbus: "+what+": %w", append(args, err)...)
}

// consumerConfig is a subscriber's durable pull consumer. It has no deliver subject: the
// subscriber pulls into its own inbox, and nothing is pushed anywhere.
// WARNING: the durable name is the subscriber id, persisted in JetStream and in issued
// credentials.
func consumerConfig(s Subscriber) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       s.ID,
		FilterSubject: CompanySubjects(s.CompanyID),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 1, // one at a time keeps the subscriber's callback in log order
		AckWait:       30 * time.Second,
	}
}

// ConsumerAdmin creates and deletes subscribers' consumers with the ledger's own
// credentials. Subscribers cannot: their permissions (see permissions) allow no consumer
// API beyond reading their own consumer's info and pulling from it, so they cannot point
// a consumer at another subscriber's inbox or at an API subject.
type ConsumerAdmin struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int
}

// NewConsumerAdmin connects as the ledger user. replicas is the LEDGER stream's
// replication factor, used when it creates the stream. A NATS that is down at start is
// waited for in the background: until it is up, Ensure and Delete fail.
func NewConsumerAdmin(ep Endpoint, replicas int) (*ConsumerAdmin, error) {
	nc, err := ep.Connect("secretsledger consumer admin", nats.RetryOnFailedConnect(true))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	return &ConsumerAdmin{nc: nc, js: js, replicas: replicas}, nil
}

// Ensure creates the subscriber's consumer, and the LEDGER stream first when the relay has
// not created it yet; an existing consumer with the same configuration is left as it is,
// so Ensure is idempotent.
func (a *ConsumerAdmin) Ensure(ctx context.Context, s Subscriber) error {
	if !ValidCompanyToken(s.CompanyID) {
		return fmt.Errorf("natsbus: company id %q cannot be a subject token", s.CompanyID)
	}
	if _, err := a.js.Stream(ctx, StreamName); errors.Is(err, jetstream.ErrStreamNotFound) {
		if err := ensureStream(ctx, a.js, a.replicas); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("natsbus: stream %s: %w", StreamName, err)
	}
	return retried(ctx, func() error {
		_, err := a.js.CreateOrUpdateConsumer(ctx, StreamName, consumerConfig(s))
		return err
	}, "create the consumer of subscriber %s", s.ID)
}

// Delete removes the subscriber's consumer; a consumer (or stream) that is already gone
// is not an error.
func (a *ConsumerAdmin) Delete(ctx context.Context, id string) error {
	err := a.js.DeleteConsumer(ctx, StreamName, id)
	if err == nil || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	return fmt.Errorf("natsbus: delete the consumer of subscriber %s: %w", id, err)
}

// Close closes the connection.
func (a *ConsumerAdmin) Close() { a.nc.Close() }
