package commands

import (
	"context"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Delete soft-deletes a secret: it leaves lists and lookups and its name and key are
// free at once; its history stays. Deleting a deleted secret succeeds and writes
// nothing.
func (h *Secrets) Delete(ctx context.Context, req Request, secretID string) (Result, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (Result, error) { return h.deleteOnce(ctx, req, secretID) })
}

func (h *Secrets) deleteOnce(ctx context.Context, req Request, secretID string) (Result, error) {
	st, err := h.rt.load(ctx, req.Actor, secretID)
	if err != nil {
		return Result{}, err
	}
	if st.deleted {
		return Result{SecretID: secretID}, nil
	}
	evt, err := events.New(events.SecretDeleted, st.companyID, events.SecretDeletedV1{SecretID: secretID}, req.metadata())
	if err != nil {
		return Result{}, err
	}
	return h.mirrored(ctx, req, st, secretID, providers.SoftDeleter.SoftDelete, providers.SoftDeleter.Restore, evt)
}

// Restore undeletes a secret within the recovery window, provided its name and key are
// still free (the read model's unique indexes answer 409 otherwise).
func (h *Secrets) Restore(ctx context.Context, req Request, secretID string) (Result, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (Result, error) { return h.restoreOnce(ctx, req, secretID) })
}

func (h *Secrets) restoreOnce(ctx context.Context, req Request, secretID string) (Result, error) {
	st, err := h.rt.load(ctx, req.Actor, secretID)
	if err != nil {
		return Result{}, err
	}
	var refusal error
	switch {
	case st.purged:
		refusal = ledgererr.New(ledgererr.Invalid, "the secret was purged and cannot be restored")
	case !st.deleted:
		refusal = ledgererr.New(ledgererr.Conflict, "the secret is not deleted")
	case h.clock().Sub(st.deletedAt) > h.recoveryWindow:
		refusal = ledgererr.New(ledgererr.Invalid, "the recovery window (%s) has passed", h.recoveryWindow)
	}
	if refusal != nil {
		return h.refusedUnlessReplayed(ctx, req, st.companyID, refusal)
	}
	evt, err := events.New(events.SecretRestored, st.companyID, events.SecretRestoredV1{SecretID: secretID, Status: st.status}, req.metadata())
	if err != nil {
		return Result{}, err
	}
	return h.mirrored(ctx, req, st, secretID, providers.SoftDeleter.Restore, providers.SoftDeleter.SoftDelete, evt)
}

// mirrored appends a soft delete or a restore, mirrored first at a provider that keeps
// its own recovery window (do), and undone there (undo) when the append does not take
// it. A replayed request changes nothing.
func (h *Secrets) mirrored(ctx context.Context, req Request, st secretState, secretID string,
	do, undo func(providers.SoftDeleter, context.Context, providers.Ref) error, evt eventstore.EventData) (Result, error) {
	p, err := h.storage.providerOf(ctx, st.provider, st.vaultID)
	if err != nil {
		return Result{}, err
	}
	if res, ok, err := h.replayed(ctx, req, st.companyID, p); ok || err != nil {
		return res, err
	}
	sd, mirror := p.(providers.SoftDeleter)
	// An external reference's secret belongs to its owner at the provider: the ledger's
	// delete and restore are the ledger's alone.
	mirror = mirror && st.managedMode != ExternalReference
	ref := st.ref(secretID, 0)
	if mirror {
		// A secret the provider no longer has is nothing to mirror: the ledger, not the
		// provider, decides what is deleted.
		if err := do(sd, ctx, ref); err != nil && ledgererr.CodeOf(err) != ledgererr.NotFound {
			return Result{}, err
		}
	}
	res, err := h.appendSecret(ctx, req, secretID, st.streamVersion, nil, nil, evt)
	if err != nil && mirror {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = undo(sd, uctx, ref) // best effort: the ledger, not the provider, decides what resolves
	}
	return res, err
}

// Purge destroys a secret's material (the provider crypto-shreds it) and records it; an
// external reference's purge only records (its secret stays with its owner).
// The event comes first: if destroying then fails, the log already says purged and a
// repeated purge destroys again. confirm must be the secret's id.
func (h *Secrets) Purge(ctx context.Context, req Request, secretID, confirm string) (Result, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (Result, error) { return h.purgeOnce(ctx, req, secretID, confirm) })
}

func (h *Secrets) purgeOnce(ctx context.Context, req Request, secretID, confirm string) (Result, error) {
	st, err := h.rt.load(ctx, req.Actor, secretID)
	if err != nil {
		return Result{}, err
	}
	if confirm != secretID {
		return Result{}, ledgererr.New(ledgererr.Invalid, `purge needs {"confirm": "<the secret id>"}`)
	}
	p, err := h.storage.providerOf(ctx, st.provider, st.vaultID)
	if err != nil {
		return Result{}, err
	}
	res := Result{SecretID: secretID}
	if !st.purged {
		evt, err := events.New(events.SecretPurged, st.companyID, events.SecretPurgedV1{SecretID: secretID}, req.metadata())
		if err != nil {
			return Result{}, err
		}
		if res, err = h.appendSecret(ctx, req, secretID, st.streamVersion, nil, nil, evt); err != nil {
			return Result{}, err
		}
	}
	if st.managedMode == ExternalReference {
		return res, nil // nothing of an external reference is the ledger's to destroy
	}
	if err := p.Destroy(ctx, st.ref(secretID, 0)); err != nil {
		return Result{}, ledgererr.Wrap(err, ledgererr.Unavailable, "the purge is recorded but destroying the material failed; repeat the purge")
	}
	return res, nil
}
