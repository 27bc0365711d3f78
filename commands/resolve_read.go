package commands

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// readValues performs the provider reads, batched per provider where it can, and marks
// each entry resolved or provider_error.
func (h *Resolver) readValues(ctx context.Context, companyID string, entries []ManifestEntry, reads map[int]providers.VersionRequest) map[int]providers.Value {
	values := map[int]providers.Value{}
	guard := h.ext.guard()
	type instance struct{ provider, vault string }
	byInstance := map[instance][]int{}
	for i := range reads {
		in := instance{entries[i].Provider, entries[i].vault}
		byInstance[in] = append(byInstance[in], i)
	}
	for in, idx := range byInstance {
		p, err := h.storage.providerOf(ctx, in.provider, in.vault)
		if err != nil {
			for _, i := range idx {
				entries[i].ProviderCode, entries[i].transient = providers.ProviderCodeOf(err), transient(err)
			}
			continue // provider_error
		}
		idx = guardReads(ctx, guard, p, entries, reads, idx)
		reqs := make([]providers.VersionRequest, len(idx))
		for j, i := range idx {
			reqs[j] = reads[i]
		}
		var results []providers.Resolved
		if br, ok := p.(providers.BatchResolver); ok {
			results = br.ResolveMany(ctx, companyID, reqs)
		} else {
			for _, rq := range reqs {
				v, err := p.Resolve(ctx, rq.Ref, rq.ProviderVersionRef)
				results = append(results, providers.Resolved{Value: v, Err: err})
			}
		}
		for j, i := range idx {
			if results[j].Err == nil {
				entries[i].Outcome = Resolved
				values[i] = results[j].Value
			} else {
				entries[i].ProviderCode, entries[i].transient = providers.ProviderCodeOf(results[j].Err), transient(results[j].Err)
			}
		}
	}
	return values
}

// guardReads passes the external references among the reads idx of one provider
// instance through the guard, and returns the reads left to do. A refused one stays a
// provider_error with the guard's provider code (provider_guardrail, or the provider's
// when the check could not be made), and is never read: a reference linked before the
// guard, or tagged as managed since, stops resolving.
func guardReads(ctx context.Context, guard *externalRefGuard, p providers.Provider, entries []ManifestEntry,
	reads map[int]providers.VersionRequest, idx []int) []int {
	keep := idx[:0:0]
	for _, i := range idx {
		if ref := reads[i].Ref.ExternalRef; ref != "" {
			if err := guard.check(ctx, p, ref); err != nil {
				entries[i].ProviderCode = providers.ProviderCodeOf(err)
				if entries[i].ProviderCode == "" {
					entries[i].ProviderCode = providers.CodeGuardrail
				}
				continue
			}
		}
		keep = append(keep, i)
	}
	return keep
}

// resolutionFailed is the answer to a resolution whose required paths failed: 422, or
// 503 when every failure is a provider that could not be read now (its database in a
// failover, AWS unavailable or throttling), so that a runtime retries instead of taking
// the answer as a refusal and stopping its agent.
func resolutionFailed(entries []ManifestEntry, failed []string) error {
	code := ledgererr.Unavailable
	for _, e := range entries {
		if e.Required && e.Outcome != Resolved && !e.transient {
			code = ledgererr.Invalid
		}
	}
	return ledgererr.New(code, "resolution failed: %s", strings.Join(failed, "; "))
}

// transient reports whether a provider's error may pass: a retry can succeed.
func transient(err error) bool {
	c := ledgererr.CodeOf(err)
	return c == ledgererr.Unavailable || c == ledgererr.TooManyRequests
}
