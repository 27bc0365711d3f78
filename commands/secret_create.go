package commands

import (
	"context"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// CreateSecret creates a secret with its version 1.
type CreateSecret struct {
	CompanyID          string
	Name               string
	Key                string
	Description        string
	Provider           string
	ManagedMode        string
	ExternalRef        string
	ProviderVersionRef string
	// ProviderConfigID asks for one of the company's provider vaults; empty: the
	// company's default vault of the provider, else the deployment's.
	ProviderConfigID string
	Value            *providers.Value
}

// decideCreate validates a create and returns the normalised command.
func decideCreate(c CreateSecret) (CreateSecret, error) {
	var err error
	if c.Name, err = checkName(c.Name); err != nil {
		return c, err
	}
	if c.Key, err = checkKey(c.Key, c.Name); err != nil {
		return c, err
	}
	c.Description = strings.TrimSpace(c.Description)
	if c.ManagedMode == "" {
		c.ManagedMode = ManagedByLedger
	}
	switch c.ManagedMode {
	case ManagedByLedger:
		if c.ExternalRef != "" {
			return c, ledgererr.New(ledgererr.Invalid, "a paperclip_managed secret cannot take an externalRef")
		}
		if err := checkValue(c.Value); err != nil {
			return c, err
		}
	case ExternalReference:
		c.ExternalRef, c.ProviderVersionRef = strings.TrimSpace(c.ExternalRef), strings.TrimSpace(c.ProviderVersionRef)
		if c.ExternalRef == "" {
			return c, ledgererr.New(ledgererr.Invalid, "an external_reference secret needs an externalRef")
		}
		if err := checkExternalRef(c.ExternalRef, c.ProviderVersionRef); err != nil {
			return c, err
		}
		if c.Value != nil {
			return c, ledgererr.New(ledgererr.Invalid, "an external_reference secret stores no value")
		}
	default:
		return c, ledgererr.New(ledgererr.Invalid, "managedMode must be paperclip_managed or external_reference")
	}
	return c, nil
}

// Create runs CreateSecret. It decides again when the company's vaults changed between
// its placement and its append (see place).
func (h *Secrets) Create(ctx context.Context, req Request, c CreateSecret) (Result, error) {
	if !req.Actor.CanAccess(c.CompanyID) {
		return Result{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	c, err := decideCreate(c)
	if err != nil {
		return Result{}, err
	}
	return decideAgain(ctx, h.rt, func(ctx context.Context) (Result, error) { return h.createOnce(ctx, req, c) })
}

func (h *Secrets) createOnce(ctx context.Context, req Request, c CreateSecret) (Result, error) {
	at, cond, err := h.place(ctx, req.Actor, c.CompanyID, c.Provider, c.ProviderConfigID)
	if err != nil {
		return Result{}, err
	}
	if res, ok, err := h.replayed(ctx, req, c.CompanyID, at.Provider); ok || err != nil {
		return res, err
	}
	if c.ManagedMode != ExternalReference {
		return h.createPlaced(ctx, req, c, at, cond, "", h.ext.guard())
	}
	err = h.ext.checkLinkPolicy(ctx, c.CompanyID, at, c.ExternalRef)
	var res Result
	if err == nil {
		res, err = h.createPlaced(ctx, req, c, at, cond, "", h.ext.guard())
	}
	if recordedRefusal(err) {
		return Result{}, h.ext.refused(ctx, req, c.CompanyID, at, RefusedLink, c.ExternalRef, err)
	}
	return res, err
}

// createPlaced writes a decided CreateSecret at its placement, on the condition that
// the streams the placement read (cond) are still at their versions; source marks how
// the secret came (SourceRemoteImport, or "" for a create). An external reference
// passes the guard first.
func (h *Secrets) createPlaced(ctx context.Context, req Request, c CreateSecret, at Placement, cond []eventstore.StreamVersion,
	source string, guard *externalRefGuard) (Result, error) {
	p := at.Provider
	c.Provider = at.ProviderID
	id := ulid.Make().String()
	ref := providers.Ref{CompanyID: c.CompanyID, SecretID: id, Version: 1, Key: c.Key}
	var w *stored // the write to undo if the append does not take it
	payload := events.SecretCreatedV1{SecretID: id, Name: c.Name, Key: c.Key, Description: c.Description,
		Provider: c.Provider, ManagedMode: c.ManagedMode, ExternalRef: c.ExternalRef, ProviderConfigID: at.VaultID,
		Source: source}
	if c.ManagedMode == ManagedByLedger {
		var err error
		if w, err = put(ctx, p, ref, *c.Value); err != nil {
			return Result{}, err
		}
		payload.ProviderVersionRef, payload.Fingerprint = w.ProviderVersionRef, w.Fingerprint
	} else {
		if err := guard.check(ctx, p, c.ExternalRef); err != nil {
			return Result{}, err
		}
		s, err := p.Link(ctx, ref, c.ExternalRef, c.ProviderVersionRef)
		if err != nil {
			return Result{}, err
		}
		payload.ProviderVersionRef, payload.Fingerprint = s.ProviderVersionRef, s.Fingerprint
		if payload.ProviderVersionRef == "" {
			payload.ProviderVersionRef = c.ProviderVersionRef
		}
	}
	evt, err := events.New(events.SecretCreated, c.CompanyID, payload, req.metadata())
	if err != nil {
		w.discard(ctx)
		return Result{}, err
	}
	return h.appendSecret(ctx, req, id, eventstore.NoStream, cond, w, evt)
}
