package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/natsbus"
)

// bus is the ledger's NATS side: the embedded server (when NATS_URL is unset), the
// relay, and the issuing of subscriber credentials (user JWTs) with their consumers.
// Both modes take one path: the embedded server is in operator mode too, with key
// material the instance created for itself.
type bus struct {
	a         *App
	embedded  *natsbus.Embedded      // nil with NATS_URL
	authority *natsbus.Authority     // nil with NATS_URL and no account signing key
	consumers *natsbus.ConsumerAdmin // nil without an authority
	// subscriberURL is the URL handed to subscribers: NATS_URL without credentials.
	subscriberURL string
	relay         *natsbus.Relay
}

// startBus starts the embedded NATS server (unless NATS_URL is set), loads the
// authority that issues subscriber credentials, ensures the consumers of the active
// subscribers, and builds the relay (not started).
func startBus(ctx context.Context, a *App) (*bus, error) {
	b := &bus{a: a}
	cfg := a.opts.Config.NATS
	ep := natsbus.Endpoint{URL: a.opts.Config.NATSURL, CredsFile: cfg.CredsFile}
	auth := natsbus.AuthConfig{Account: cfg.Account, AccountSeedFile: cfg.AccountSeedFile,
		OperatorSeedFile: cfg.OperatorSeedFile, SystemCredsFile: cfg.SystemCredsFile}
	b.subscriberURL = natsbus.SubscriberURL(a.opts.Config.NATSURL)
	if a.opts.Config.NATSURL == "" {
		var err error
		b.embedded, err = natsbus.StartEmbedded(natsbus.EmbeddedOptions{Addr: a.opts.Config.NATSAddr, Dir: filepath.Join(a.Dir.Path, "nats")})
		if err != nil {
			return nil, usage.Errorf("%w (set LEDGER_NATS_ADDR to a free address, or NATS_URL)", err)
		}
		ep, auth, b.subscriberURL = b.embedded.Endpoint(), b.embedded.Auth().Config(), b.embedded.ClientURL()
	}
	if auth.AccountSeedFile != "" {
		var err error
		if b.authority, err = natsbus.LoadAuthority(auth, cfg.CredsTTL); err != nil {
			b.shutdown()
			return nil, usage.Errorf("%w (LEDGER_NATS_ACCOUNT, LEDGER_NATS_ACCOUNT_SEED_FILE, LEDGER_NATS_OPERATOR_SEED_FILE)", err)
		}
		if b.consumers, err = natsbus.NewConsumerAdmin(ep, cfg.Replicas); err != nil {
			b.shutdown()
			return nil, err
		}
	}
	if b.embedded != nil {
		subs, err := b.subscribers(ctx)
		if err != nil {
			b.shutdown()
			return nil, err
		}
		b.ensureConsumers(ctx, subs)
	}
	b.relay = &natsbus.Relay{Pool: a.Pool, Events: a.Store, NATS: ep, Replicas: cfg.Replicas, Wake: a.committed, Log: a.opts.Log}
	return b, nil
}

// ensureConsumers recreates the consumer of every active subscriber that lacks one (say,
// after the JetStream store was lost). A failure is logged, not fatal: NATS degrades the
// ledger, never stops it, and Follow waits for a missing consumer.
func (b *bus) ensureConsumers(ctx context.Context, subs []natsbus.Subscriber) {
	for _, s := range subs {
		if err := b.consumers.Ensure(ctx, s); err != nil {
			b.a.opts.Log.Error("event subscriber has no NATS consumer", "subscriber", s.ID, "err", err)
		}
	}
}

func (b *bus) subscribers(ctx context.Context) ([]natsbus.Subscriber, error) {
	active, err := b.a.queries.events.ActiveSubscribers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]natsbus.Subscriber, len(active))
	for i, s := range active {
		out[i] = natsbus.Subscriber{ID: s.ID, CompanyID: s.CompanyID}
	}
	return out, nil
}

func (b *bus) shutdown() {
	if b.consumers != nil {
		b.consumers.Close()
	}
	if b.embedded != nil {
		b.embedded.Shutdown()
	}
}

var errNoAccountKey = ledgererr.New(ledgererr.Invalid,
	"subscriber credentials need the signing key of the ledger's NATS account: set LEDGER_NATS_ACCOUNT and LEDGER_NATS_ACCOUNT_SEED_FILE (see docs/scale-out.md)")

// Issue implements httpapi.EventSubscribers.
func (b *bus) Issue(ctx context.Context, req commands.Request, companyID, label string) (natsbus.SubscriberCredentials, error) {
	if b.authority == nil {
		return natsbus.SubscriberCredentials{}, errNoAccountKey
	}
	if !natsbus.ValidCompanyToken(companyID) {
		return natsbus.SubscriberCredentials{}, ledgererr.New(ledgererr.BadRequest, "companyId cannot be a NATS subject token")
	}
	res, err := b.a.Commands.Subscribers.IssueSubscriber(ctx, req, companyID, label)
	if err != nil {
		return natsbus.SubscriberCredentials{}, err
	}
	s := natsbus.Subscriber{ID: res.SubscriberID, CompanyID: companyID}
	// The consumer before the credentials: once they work, there is something to pull.
	if err := b.consumers.Ensure(ctx, s); err != nil {
		return natsbus.SubscriberCredentials{}, ledgererr.Wrap(err, ledgererr.Unavailable, "the subscriber is recorded but NATS did not take it; retry later")
	}
	issued, err := b.authority.Issue(s)
	if err != nil {
		return natsbus.SubscriberCredentials{}, err
	}
	return natsbus.SubscriberCredentials{URL: b.subscriberURL, User: issued.User, Creds: issued.Creds, ExpiresAt: issued.ExpiresAt,
		SubscriberID: res.SubscriberID, CompanyID: companyID,
		InboxPrefix: natsbus.InboxPrefix(res.SubscriberID), Subjects: natsbus.CompanySubjects(companyID)}, nil
}

// Revoke implements httpapi.EventSubscribers.
func (b *bus) Revoke(ctx context.Context, req commands.Request, companyID, id string) error {
	if b.authority == nil {
		return errNoAccountKey
	}
	if _, err := b.a.Commands.Subscribers.RevokeSubscriber(ctx, req, companyID, id); err != nil {
		return err
	}
	// With the operator key the user's connections are closed first; its consumer is
	// deleted either way, which leaves its JWT nothing to pull until it expires.
	var pushErr error
	if b.authority.CanRevokeInAccount() {
		pushErr = b.authority.Revoke(ctx, b.relay.NATS, b.a.Pool, id)
	}
	if err := b.consumers.Delete(ctx, id); err != nil {
		return ledgererr.Wrap(err, ledgererr.Unavailable, "the subscriber is revoked but its NATS consumer was not deleted; revoke again to retry")
	}
	if pushErr != nil {
		return ledgererr.Wrap(pushErr, ledgererr.Unavailable, "the subscriber is revoked and its NATS consumer deleted, but the revocation did not reach the account JWT; revoke again to retry")
	}
	return nil
}

// check reports the relay in /readyz; NATS being down degrades, never fails, readiness:
// commands keep committing and the relay catches up.
func (b *bus) check() httpapi.Check {
	return httpapi.Check{Name: "nats", Degrades: true, Run: func(context.Context) (string, error) {
		st := b.relay.Status()
		lag := fmt.Sprintf("relay cursor %d of %d, lag %d events / %.1fs", st.Cursor, st.Head, st.Head-st.Cursor, st.LagSeconds)
		switch {
		case !st.Connected:
			return "", ledgererr.New(ledgererr.Unavailable, "NATS unreachable; events are kept in the log and relayed when it returns (%s)", lag)
		case !st.Leader:
			return "connected; another ledger process relays", nil
		}
		return "connected; " + lag, nil
	}}
}
