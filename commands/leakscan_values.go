package commands

import (
	"context"
	"sort"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/redact"
)

// scanRef is what a scan knows of one value it looks for: whose and which version.
// The scanner refers to a value by its index in scanSet.refs.
type scanRef struct {
	secretID, key string
	version       int
}

// scanSet is the values a scan reads, grouped by the provider instance holding them.
type scanSet struct {
	refs            []scanRef
	reads           map[scanInstance][]scanRead
	externalSkipped int
	failed          int
}

type scanInstance struct{ provider, vault string }

// scanRead is one version to read: its index in refs and the provider's request.
type scanRead struct {
	ref int
	req providers.VersionRequest
}

// collect lists every version of every secret of the company that may still be read:
// deleted secrets' included (their material is kept for the recovery window, and a
// leak of it matters as much), purged ones' and destroyed versions not; external
// references only when asked. Nothing is read yet, so a company over MaxScanValues is
// refused before any provider call.
func (h *LeakScans) collect(ctx context.Context, a actor.Actor, companyID string, includeExternal bool) (scanSet, error) {
	set := scanSet{reads: map[scanInstance][]scanRead{}}
	ids, err := h.directory.CompanySecretIDs(ctx, companyID)
	if err != nil {
		return set, err
	}
	for _, id := range ids {
		st, err := h.rt.load(ctx, a, id)
		if ledgererr.CodeOf(err) == ledgererr.NotFound {
			continue // gone from memory's view meanwhile (another company's, or never created)
		}
		if err != nil {
			return set, err
		}
		if st.purged {
			continue
		}
		versions := make([]int, 0, len(st.versions))
		for v := range st.versions {
			versions = append(versions, v)
		}
		sort.Ints(versions)
		for _, v := range versions {
			vs := st.versions[v]
			switch {
			case vs.destroyed:
				continue
			case st.managedMode == ExternalReference && !includeExternal:
				set.externalSkipped++
				continue
			}
			if len(set.refs) == h.maxValues {
				return set, ledgererr.WithReason(ledgererr.Invalid, ReasonScanTooManyValues,
					"the company has more than %d secret versions to look for: a scan looks for all or none", MaxScanValues)
			}
			in := scanInstance{st.provider, st.vaultID}
			set.reads[in] = append(set.reads[in], scanRead{ref: len(set.refs),
				req: providers.VersionRequest{Ref: st.ref(id, v), ProviderVersionRef: vs.providerVersionRef}})
			set.refs = append(set.refs, scanRef{secretID: id, key: st.key, version: v})
		}
	}
	return set, nil
}

// read reads the values of set, batched per provider instance where it can. A value
// that cannot be read (its provider is gone, it does not decrypt, an external
// reference the guard refuses) is counted in set.failed and not looked for: the scan
// goes on with the others.
func (h *LeakScans) read(ctx context.Context, companyID string, set *scanSet) []redact.ScanValue {
	var values []redact.ScanValue
	guard := h.ext.guard()
	for in, reads := range set.reads {
		p, err := h.storage.providerOf(ctx, in.provider, in.vault)
		if err != nil {
			set.failed += len(reads)
			continue
		}
		var keep []scanRead
		for _, r := range reads {
			if ref := r.req.Ref.ExternalRef; ref != "" && guard.check(ctx, p, ref) != nil {
				set.failed++
				continue
			}
			keep = append(keep, r)
		}
		for i, res := range resolveAll(ctx, p, companyID, keep) {
			if res.Err != nil {
				set.failed++
				continue
			}
			values = append(values, redact.ScanValue{Ref: keep[i].ref, Value: res.Value.Reveal()})
		}
	}
	return values
}

// resolveAll reads reads from p in one call when p can, one by one otherwise.
func resolveAll(ctx context.Context, p providers.Provider, companyID string, reads []scanRead) []providers.Resolved {
	reqs := make([]providers.VersionRequest, len(reads))
	for i, r := range reads {
		reqs[i] = r.req
	}
	if br, ok := p.(providers.BatchResolver); ok && len(reqs) > 0 {
		return br.ResolveMany(ctx, companyID, reqs)
	}
	out := make([]providers.Resolved, len(reqs))
	for i, rq := range reqs {
		v, err := p.Resolve(ctx, rq.Ref, rq.ProviderVersionRef)
		out[i] = providers.Resolved{Value: v, Err: err}
	}
	return out
}
