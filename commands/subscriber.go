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

// IssueSubscriber creates NATS credentials that can read only companyID's events.
func (h *Secrets) IssueSubscriber(ctx context.Context, req Request, companyID, label string) (SubscriberResult, error) {
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
	res, err := h.append(ctx, eventstore.Append{Stream: events.EventSubscriberStream(id), Expected: eventstore.NoStream,
		Events: []eventstore.EventData{evt}})
	if err != nil {
		return SubscriberResult{}, err
	}
	return SubscriberResult{SubscriberID: id, Password: password, Position: res.LastPosition}, nil
}

// RevokeSubscriber revokes a subscriber of companyID; revoking it again succeeds.
func (h *Secrets) RevokeSubscriber(ctx context.Context, req Request, companyID, id string) (SubscriberResult, error) {
	var company string
	var revoked bool
	var version int64
	err := h.fold(ctx, events.EventSubscriberStream(id), func(e eventstore.Event) error {
		version = e.StreamVersion
		company = e.CompanyID
		revoked = revoked || e.Type == events.EventSubscriberRevoked
		return nil
	})
	if err != nil {
		return SubscriberResult{}, err
	}
	if company == "" || company != companyID || !req.Actor.CanAccess(company) {
		return SubscriberResult{}, ledgererr.New(ledgererr.NotFound, "event subscriber not found")
	}
	if revoked {
		return SubscriberResult{SubscriberID: id}, nil
	}
	evt, err := events.New(events.EventSubscriberRevoked, company, events.EventSubscriberRevokedV1{SubscriberID: id}, req.metadata())
	if err != nil {
		return SubscriberResult{}, err
	}
	res, err := h.append(ctx, eventstore.Append{Stream: events.EventSubscriberStream(id), Expected: version,
		Events: []eventstore.EventData{evt}})
	return SubscriberResult{SubscriberID: id, Position: res.LastPosition}, err
}
