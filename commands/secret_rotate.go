package commands

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// RotateSecret adds a version that becomes current.
type RotateSecret struct {
	SecretID              string
	Value                 *providers.Value
	ExternalRef           string
	ProviderVersionRef    string
	ExpectedLatestVersion *int
}

func decideRotate(st secretState, c RotateSecret) error {
	switch {
	case st.deleted:
		return errSecretNotFound
	case st.status != StatusActive:
		return ledgererr.New(ledgererr.Invalid, "Cannot rotate a non-active secret")
	case c.ExpectedLatestVersion != nil && *c.ExpectedLatestVersion != st.latestVersion:
		return ledgererr.New(ledgererr.Conflict, "the latest version is %d, not %d", st.latestVersion, *c.ExpectedLatestVersion)
	}
	if st.managedMode == ManagedByLedger {
		if c.ExternalRef != "" || c.ProviderVersionRef != "" {
			return ledgererr.New(ledgererr.Invalid, "a paperclip_managed secret rotates with a new value, not an externalRef")
		}
		return checkValue(c.Value)
	}
	if c.Value != nil {
		return ledgererr.New(ledgererr.Invalid, "an external_reference secret stores no value; rotate with externalRef or providerVersionRef")
	}
	if strings.TrimSpace(c.ExternalRef) == "" && strings.TrimSpace(c.ProviderVersionRef) == "" {
		return ledgererr.New(ledgererr.Invalid, "an external_reference rotation needs externalRef or providerVersionRef")
	}
	return checkExternalRef(c.ExternalRef, c.ProviderVersionRef)
}

// Rotate runs RotateSecret. When another write to the secret got in between its
// decision and its append, it decides again on the secret as it now is (with
// expectedLatestVersion, that decision is a conflict if the latest version moved).
func (h *Secrets) Rotate(ctx context.Context, req Request, c RotateSecret) (Result, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (Result, error) { return h.rotateOnce(ctx, req, c) })
}

func (h *Secrets) rotateOnce(ctx context.Context, req Request, c RotateSecret) (Result, error) {
	st, err := h.rt.load(ctx, req.Actor, c.SecretID)
	if err != nil {
		return Result{}, err
	}
	if err := decideRotate(st, c); err != nil {
		return h.refusedUnlessReplayed(ctx, req, st.companyID, err)
	}
	p, err := h.storage.providerOf(ctx, st.provider, st.vaultID)
	if err != nil {
		return Result{}, err
	}
	if res, ok, err := h.replayed(ctx, req, st.companyID, p); ok || err != nil {
		return res, err
	}
	version := st.latestVersion + 1
	ref := st.ref(c.SecretID, version)
	ref.Previous = st.versions[st.latestVersion].providerVersionRef
	var w *stored
	payload := events.SecretVersionAddedV1{SecretID: c.SecretID, Version: version}
	if st.managedMode == ManagedByLedger {
		if w, err = put(ctx, p, ref, *c.Value); err != nil {
			return Result{}, err
		}
		payload.ProviderVersionRef, payload.Fingerprint = w.ProviderVersionRef, w.Fingerprint
	} else {
		// A new reference, or another pinned version of the current one: linked (the
		// policy, the guard of managed secrets, the provider's fingerprint), never
		// written at the provider.
		ext := strings.TrimSpace(c.ExternalRef)
		if ext == "" {
			ext = st.versions[st.latestVersion].externalRef
		}
		linked, err := h.ext.linkRotation(ctx, req, st, p, ref, ext, c.ProviderVersionRef)
		if err != nil {
			return Result{}, err
		}
		payload.ExternalRef, payload.ProviderVersionRef, payload.Fingerprint = ext, strings.TrimSpace(c.ProviderVersionRef), linked.Fingerprint
	}
	evt, err := events.New(events.SecretVersionAdded, st.companyID, payload, req.metadata())
	if err != nil {
		w.discard(ctx)
		return Result{}, err
	}
	res, err := h.appendSecret(ctx, req, c.SecretID, st.streamVersion, nil, w, evt)
	if err == nil && !res.Replayed {
		w.commit(ctx)
	}
	return res, err
}
