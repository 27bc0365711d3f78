package commands

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// SubscriberResult is an issued event subscriber; Password is shown once.
type SubscriberResult struct {
	SubscriberID string
	Password     string
	Position     int64
}

// Subscribers handles the event subscribers' NATS credentials: IssueSubscriber and
// RevokeSubscriber.
type Subscribers struct {
	rt *Runtime
}

// subscriberState is an event subscriber folded from its stream.
type subscriberState struct {
	companyID     string
	revoked       bool
	streamVersion int64
}

func (s *subscriberState) apply(e eventstore.Event) error {
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	s.streamVersion, s.companyID = e.StreamVersion, e.CompanyID
	if _, ok := p.(*events.EventSubscriberRevokedV1); ok {
		s.revoked = true
	}
	return nil
}

var errSubscriberNotFound = ledgererr.New(ledgererr.NotFound, "event subscriber not found")

// IssueSubscriber creates NATS credentials that can read only companyID's events.
func (h *Subscribers) IssueSubscriber(ctx context.Context, req Request, companyID, label string) (SubscriberResult, error) {
	if !req.Actor.CanAccess(companyID) {
		return SubscriberResult{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	password := base64.RawURLEncoding.EncodeToString(b)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return SubscriberResult{}, fmt.Errorf("commands: hash subscriber password: %w", err)
	}
	// A NATS consumer name: letters and digits only.
	id := strings.ToLower(ulid.Make().String())
	evt, err := events.New(events.EventSubscriberIssued, companyID, events.EventSubscriberIssuedV1{SubscriberID: id,
		Label: strings.TrimSpace(label), PasswordHash: string(hash)}, req.metadata())
	if err != nil {
		return SubscriberResult{}, err
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: events.EventSubscriberStream(id), Expected: eventstore.NoStream,
		Events: []eventstore.EventData{evt}, Idempotency: req.Idempotency})
	if err != nil {
		return SubscriberResult{}, err
	}
	if res.Replayed { // as IssueKey: the password minted now was never recorded
		return SubscriberResult{}, errCredentialNotKept
	}
	return SubscriberResult{SubscriberID: id, Password: password, Position: res.LastPosition}, nil
}

// RevokeSubscriber revokes a subscriber of companyID; revoking it again succeeds. It
// decides on the subscriber's stream as the log has it (memory keeps no subscribers),
// and again when another revocation got in first.
func (h *Subscribers) RevokeSubscriber(ctx context.Context, req Request, companyID, id string) (SubscriberResult, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (SubscriberResult, error) {
		return h.revokeOnce(ctx, req, companyID, id)
	})
}

func (h *Subscribers) revokeOnce(ctx context.Context, req Request, companyID, id string) (SubscriberResult, error) {
	stream := events.EventSubscriberStream(id)
	var st subscriberState
	if err := h.rt.fold(ctx, stream, st.apply); err != nil {
		return SubscriberResult{}, err
	}
	noteRead(ctx, stream, st.streamVersion)
	if st.companyID == "" || st.companyID != companyID || !req.Actor.CanAccess(st.companyID) {
		return SubscriberResult{}, errSubscriberNotFound
	}
	if st.revoked {
		return SubscriberResult{SubscriberID: id}, nil
	}
	evt, err := events.New(events.EventSubscriberRevoked, st.companyID, events.EventSubscriberRevokedV1{SubscriberID: id}, req.metadata())
	if err != nil {
		return SubscriberResult{}, err
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: stream, Expected: st.streamVersion, Events: []eventstore.EventData{evt}})
	return SubscriberResult{SubscriberID: id, Position: res.LastPosition}, err
}
