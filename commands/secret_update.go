package commands

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// UpdateSecret changes a secret's metadata; nil fields stay as they are.
type UpdateSecret struct {
	SecretID    string
	Name        *string
	Key         *string
	Description *string
	Status      *string
	ExternalRef *string
}

// decideUpdate returns the changed fields; a delete through PATCH (allowed for
// external references only) is reported by asDelete.
func decideUpdate(st secretState, c UpdateSecret) (p events.SecretUpdatedV1, asDelete bool, err error) {
	p.SecretID = c.SecretID
	if st.deleted {
		return p, false, errSecretNotFound
	}
	if c.ExternalRef != nil {
		if st.managedMode == ManagedByLedger {
			return p, false, ledgererr.New(ledgererr.Invalid, "a paperclip_managed secret cannot take an externalRef")
		}
		return p, false, ledgererr.New(ledgererr.Invalid, "an external reference cannot be retargeted through update; rotate it instead")
	}
	if c.Name != nil {
		name, err := checkName(*c.Name)
		if err != nil {
			return p, false, err
		}
		if name != st.name {
			p.Name = &name
		}
	}
	if c.Key != nil {
		key, err := checkKey(*c.Key, "")
		if err != nil {
			return p, false, err
		}
		if key != st.key {
			p.Key = &key
		}
	}
	if c.Description != nil {
		d := strings.TrimSpace(*c.Description)
		p.Description = &d
	}
	if c.Status != nil {
		switch *c.Status {
		case StatusActive, StatusDisabled, StatusArchived:
			if *c.Status != st.status {
				p.Status = c.Status
			}
		case StatusDeleted:
			if st.managedMode == ManagedByLedger {
				return p, false, ledgererr.New(ledgererr.Invalid, "a paperclip_managed secret is deleted with DELETE, not by status")
			}
			return p, true, nil
		default:
			return p, false, ledgererr.New(ledgererr.Invalid, "status must be active, disabled or archived")
		}
	}
	return p, false, nil
}

// Update runs UpdateSecret. An update that changes nothing writes nothing.
func (h *Secrets) Update(ctx context.Context, req Request, c UpdateSecret) (Result, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (Result, error) { return h.updateOnce(ctx, req, c) })
}

func (h *Secrets) updateOnce(ctx context.Context, req Request, c UpdateSecret) (Result, error) {
	st, err := h.rt.load(ctx, req.Actor, c.SecretID)
	if err != nil {
		return Result{}, err
	}
	p, asDelete, err := decideUpdate(st, c)
	if err != nil {
		return Result{}, err
	}
	if asDelete {
		return h.Delete(ctx, req, c.SecretID)
	}
	if p.Name == nil && p.Key == nil && p.Description == nil && p.Status == nil {
		return Result{SecretID: c.SecretID}, nil
	}
	evt, err := events.New(events.SecretUpdated, st.companyID, p, req.metadata())
	if err != nil {
		return Result{}, err
	}
	return h.appendSecret(ctx, req, c.SecretID, st.streamVersion, nil, nil, evt)
}
