package commands

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// This file holds the check points of the external-reference policy, one function
// each: linking (checkLinkPolicy), remote import (importTarget loads the policy,
// filterPreview and checkImportRowPolicy decide), resolution (checkResolvePolicy) and
// AWS vault configs (checkVaultDecision); and the record of a refused attempt.

// externalRefs is what the checks of external references need: the instance's approved
// prefixes and managed namespaces, and the runtime (each company's policy, and the
// record of refusals).
type externalRefs struct {
	rt *Runtime
	// prefixes are, by provider, the instance's approvals of every company's references
	// (LEDGER_AWS_EXTERNAL_PREFIXES, LEDGER_VAULT_EXTERNAL_PREFIXES): under these
	// prefixes, AnyExternalRef for any; none for a provider without a list.
	prefixes map[string][]string
	managed  ManagedNamespaces
}

// instance is the instance's approved prefixes of a provider's references: one
// provider's list never approves another's references, whose names mean other things.
func (x externalRefs) instance(provider string) []string { return x.prefixes[provider] }

// Operations of an external_reference.refused event.
// WARNING: persisted in events.
const (
	RefusedLink   = "link"
	RefusedImport = "import"
)

// recordedRefusal reports whether a link or import refusal is one that is recorded in
// the company's log: the policy's, and the guardrail's (a secret the ledger manages).
// Both are tenant-boundary refusals, the trace of a company reaching for what it may
// not read; other refusals (a taken name, a malformed reference) are not.
func recordedRefusal(err error) bool {
	switch refusalReason(err) {
	case ReasonExternalNotApproved, ConflictGuardrail:
		return true
	}
	return false
}

// refusalReason is the code of a refusal: its reason, else its provider code (a
// guardrail's refusal may carry "provider_guardrail" either way).
func refusalReason(err error) string {
	if r := ledgererr.ReasonOf(err); r != "" {
		return r
	}
	return providers.ProviderCodeOf(err)
}

// refused records a refused link or import of an external reference in the company's
// refusal stream (who: the request's actor; which reference; in which vault; why: the
// refusal's reason and safe message, never a value) and returns the refusal. Every
// refusal is recorded: each comes from one authenticated request of a board token, like
// any other write, and an import batch is bounded (MaxImportBatch). When the record
// cannot be appended the answer says so instead (the attempt stays refused).
func (x externalRefs) refused(ctx context.Context, req Request, companyID string, at Placement, op, ref string, refusal error) error {
	if err := x.recordRefusal(ctx, req, companyID, at, op, ref, refusal); err != nil {
		return err
	}
	return refusal
}

// recordRefusal appends the external_reference.refused event of a refusal; nil when it
// is recorded. It appends past the runtime's append: the record is not the attempt's
// write, so a refusal decided on memory that was behind is still checked against the
// log (decideAgain) and decided again.
func (x externalRefs) recordRefusal(ctx context.Context, req Request, companyID string, at Placement, op, ref string, refusal error) error {
	evt, err := events.New(events.ExternalReferenceRefused, companyID, events.ExternalReferenceRefusedV1{Operation: op,
		Provider: at.ProviderID, VaultID: at.VaultID, ExternalRef: ref, Reason: refusalReason(refusal),
		Message: ledgererr.MessageOf(refusal)}, req.metadata())
	if err != nil {
		return err
	}
	if _, err := x.rt.log.AppendWith(ctx, eventstore.Append{Stream: events.ExternalRefusalStream(companyID),
		Expected: eventstore.Unversioned, Events: []eventstore.EventData{evt}}); err != nil {
		return ledgererr.Wrap(err, ledgererr.Unavailable, "the reference was refused, and the refusal could not be recorded; retry")
	}
	return nil
}

// refNameOf is how a placement's provider names the secret a reference denotes (an AWS
// ARN and the name of one secret are the same reference); the reference itself for a
// provider that does not say.
func refNameOf(p providers.Provider) func(string) string {
	if refs, ok := unwrapProvider(p).(ExternalRefs); ok {
		return refs.ExternalRefName
	}
	return func(ref string) string { return ref }
}

// checkLinkPolicy is the policy's check of a link (an external_reference secret
// created directly): the company's policy or the instance's prefixes must approve it.
func (x externalRefs) checkLinkPolicy(ctx context.Context, companyID string, at Placement, ref string) error {
	st, err := x.rt.loadPolicy(ctx, companyID)
	if err != nil {
		return err
	}
	return decideExternalRef(st, x.instance(at.ProviderID), ref, refNameOf(at.Provider))
}

// filterPreview keeps the candidates of a preview page that the company may import:
// inventory outside its approved prefixes is not shown to it.
func filterPreview(t importTarget, instance []string, cs []providers.RemoteSecret) []providers.RemoteSecret {
	out := cs[:0:0]
	for _, rs := range cs {
		if t.policy.approves(instance, rs.Ref, t.refs.ExternalRefName) {
			out = append(out, rs)
		}
	}
	return out
}

// checkImportRowPolicy is the policy's check of one row of a remote import.
func (x externalRefs) checkImportRowPolicy(t importTarget, ref string) error {
	return decideExternalRef(t.policy, x.instance(t.at.ProviderID), ref, t.refs.ExternalRefName)
}

// checkResolvePolicy is the policy's check at resolution: each external reference still
// to be read must be approved now, else its entry fails with ReasonExternalNotApproved
// and its provider is not read (an approval withdrawn stops resolution). The policy
// stream joins the access append's condition, so a withdrawal that commits meanwhile
// makes the resolution decide again.
func (h *Resolver) checkResolvePolicy(ctx context.Context, companyID string, entries []ManifestEntry,
	reads map[int]providers.VersionRequest, cond []eventstore.StreamVersion) ([]eventstore.StreamVersion, error) {
	var st *policyState
	for i, rq := range reads {
		if rq.Ref.ExternalRef == "" {
			continue
		}
		if st == nil {
			loaded, err := h.rt.loadPolicy(ctx, companyID)
			if err != nil {
				return cond, err
			}
			st = &loaded
			cond = append(cond, eventstore.StreamVersion{Stream: events.ExternalPolicyStream(companyID), Version: st.streamVersion})
		}
		refName := func(ref string) string { return ref }
		if p, err := h.storage.providerOf(ctx, entries[i].Provider, entries[i].vault); err == nil {
			refName = refNameOf(p)
		}
		if decideExternalRef(*st, h.ext.instance(entries[i].Provider), rq.Ref.ExternalRef, refName) != nil {
			entries[i].Outcome = ReasonExternalNotApproved
			delete(reads, i)
		}
	}
	return cond, nil
}

// checkVaultPolicy is the policy's check of a vault decision: the decision's append is
// conditional on the version of the company's policy it read, so a policy replaced
// meanwhile makes the command decide again.
func (h *Vaults) checkVaultPolicy(ctx context.Context, a actor.Actor, companyID string, st vaultsState, d *decision) error {
	pol, err := h.rt.loadPolicy(ctx, companyID)
	if err != nil {
		return err
	}
	d.cond = append(d.cond, eventstore.StreamVersion{Stream: events.ExternalPolicyStream(companyID), Version: pol.streamVersion})
	if err := h.checkVaultDeployment(st, *d, a.Companies != nil); err != nil {
		return err
	}
	if err := checkVaultDecision(pol, st, *d, a.Companies != nil); err != nil {
		return err
	}
	return h.probeVaults(ctx, companyID, st, *d)
}

// checkVaultDecision is the policy's check of an AWS vault a decision creates or
// reconfigures (see decideVaultPolicy).
func checkVaultDecision(pol policyState, st vaultsState, d decision, limited bool) error {
	for _, ve := range d.events {
		switch p := ve.payload.(type) {
		case events.VaultCreatedV1:
			if err := decideVaultPolicy(pol, p.Provider, p.Config, limited); err != nil {
				return err
			}
		case events.VaultUpdatedV1:
			if p.Config != nil {
				if err := decideVaultPolicy(pol, st.vaults[p.VaultID].Provider, *p.Config, limited); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// linkRotation is the policy's check of a rotation of an external reference (to a new
// reference, or another version of its own), then the provider's link; a refusal of
// either is recorded like a link's.
func (x externalRefs) linkRotation(ctx context.Context, req Request, st secretState, p providers.Provider, ref providers.Ref,
	ext, versionRef string) (providers.Stored, error) {
	at := Placement{ProviderID: st.provider, VaultID: st.vaultID, Provider: p}
	err := x.checkLinkPolicy(ctx, st.companyID, at, ext)
	if err == nil {
		err = x.guard().check(ctx, p, ext)
	}
	var linked providers.Stored
	if err == nil {
		linked, err = p.Link(ctx, ref, ext, strings.TrimSpace(versionRef))
	}
	if recordedRefusal(err) {
		return linked, x.refused(ctx, req, st.companyID, at, RefusedLink, ext, err)
	}
	return linked, err
}
