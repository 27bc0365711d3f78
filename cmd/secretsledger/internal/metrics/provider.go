package metrics

import (
	"context"
	"time"

	"github.com/secretsledger/secretsledger/providers"
)

// Provider operations, the values of the operation label.
const (
	OpPut         = "put"
	OpStage       = "stage"
	OpLink        = "link"
	OpResolve     = "resolve"
	OpResolveMany = "resolve_many"
	OpDiscard     = "discard"
	OpDestroy     = "destroy"
	OpCommit      = "commit"
	OpSoftDelete  = "soft_delete"
	OpRestore     = "restore"
)

// Provider returns p timed and counted per call. The result implements every optional
// provider interface (BatchResolver, Committer, SoftDeleter): where p lacks one, the
// call does what the ledger does without it (one read per version; nothing to commit
// or mirror), uncounted. Descriptor and Health are passed through: they are not the
// provider's data path.
func (m *Metrics) Provider(p providers.Provider) providers.Provider {
	in := &instrumented{Provider: p, m: m, id: p.Descriptor().ID}
	ops := []string{OpPut, OpLink, OpResolve, OpResolveMany, OpDiscard, OpDestroy}
	if _, ok := p.(providers.Committer); ok {
		ops = append(ops, OpCommit)
	}
	if _, ok := p.(providers.SoftDeleter); ok {
		ops = append(ops, OpSoftDelete, OpRestore)
	}
	_, stager := p.(providers.Stager)
	if stager {
		ops = append(ops, OpStage)
	}
	for _, op := range ops {
		for _, o := range []string{"ok", "error"} {
			m.providerCalls.WithLabelValues(in.id, op, o)
		}
	}
	if stager {
		return stagingInstrumented{in}
	}
	return in
}

// stagingInstrumented is a measured Stager: only a provider that stages its writes may
// look like one, since the ledger then writes nothing at the provider outside the
// append.
type stagingInstrumented struct{ *instrumented }

// Stage implements providers.Stager, timed and counted (the write itself is the
// append's).
func (p stagingInstrumented) Stage(ctx context.Context, ref providers.Ref, v providers.Value) (st providers.Stored, w providers.StagedWrite, err error) {
	err = p.timed(OpStage, func() error { st, w, err = p.Provider.(providers.Stager).Stage(ctx, ref, v); return err })
	return st, w, err
}

type instrumented struct {
	providers.Provider
	m  *Metrics
	id string
}

// Unwrap returns the provider being measured.
func (p *instrumented) Unwrap() providers.Provider { return p.Provider }

func (p *instrumented) observe(op string, start time.Time, failed bool) {
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	p.m.providerCalls.WithLabelValues(p.id, op, outcome).Inc()
	p.m.providerTiming.WithLabelValues(p.id, op).Observe(time.Since(start).Seconds())
}

// timed runs one call of op and measures it.
func (p *instrumented) timed(op string, call func() error) error {
	start := time.Now()
	err := call()
	p.observe(op, start, err != nil)
	return err
}

// Put implements providers.Provider, timed and counted.
func (p *instrumented) Put(ctx context.Context, ref providers.Ref, v providers.Value) (st providers.Stored, err error) {
	err = p.timed(OpPut, func() error { st, err = p.Provider.Put(ctx, ref, v); return err })
	return st, err
}

// Link implements providers.Provider, timed and counted.
func (p *instrumented) Link(ctx context.Context, ref providers.Ref, externalRef, providerVersionRef string) (st providers.Stored, err error) {
	err = p.timed(OpLink, func() error { st, err = p.Provider.Link(ctx, ref, externalRef, providerVersionRef); return err })
	return st, err
}

// Resolve implements providers.Provider, timed and counted.
func (p *instrumented) Resolve(ctx context.Context, ref providers.Ref, providerVersionRef string) (v providers.Value, err error) {
	err = p.timed(OpResolve, func() error { v, err = p.Provider.Resolve(ctx, ref, providerVersionRef); return err })
	return v, err
}

// Discard implements providers.Provider, timed and counted.
func (p *instrumented) Discard(ctx context.Context, ref providers.Ref, providerVersionRef string) error {
	return p.timed(OpDiscard, func() error { return p.Provider.Discard(ctx, ref, providerVersionRef) })
}

// Destroy implements providers.Provider, timed and counted.
func (p *instrumented) Destroy(ctx context.Context, ref providers.Ref) error {
	return p.timed(OpDestroy, func() error { return p.Provider.Destroy(ctx, ref) })
}

// ResolveMany implements providers.BatchResolver, timed and counted as one call.
func (p *instrumented) ResolveMany(ctx context.Context, companyID string, reqs []providers.VersionRequest) []providers.Resolved {
	br, ok := p.Provider.(providers.BatchResolver)
	if !ok {
		out := make([]providers.Resolved, len(reqs))
		for i, r := range reqs {
			out[i].Value, out[i].Err = p.Resolve(ctx, r.Ref, r.ProviderVersionRef)
		}
		return out
	}
	var out []providers.Resolved
	_ = p.timed(OpResolveMany, func() error {
		out = br.ResolveMany(ctx, companyID, reqs)
		for _, r := range out {
			if r.Err != nil {
				return r.Err
			}
		}
		return nil
	})
	return out
}

// Commit implements providers.Committer, timed and counted.
func (p *instrumented) Commit(ctx context.Context, ref providers.Ref, providerVersionRef string) error {
	c, ok := p.Provider.(providers.Committer)
	if !ok {
		return nil
	}
	return p.timed(OpCommit, func() error { return c.Commit(ctx, ref, providerVersionRef) })
}

// SoftDelete implements providers.SoftDeleter, timed and counted.
func (p *instrumented) SoftDelete(ctx context.Context, ref providers.Ref) error {
	sd, ok := p.Provider.(providers.SoftDeleter)
	if !ok {
		return nil
	}
	return p.timed(OpSoftDelete, func() error { return sd.SoftDelete(ctx, ref) })
}

// Restore implements providers.SoftDeleter, timed and counted.
func (p *instrumented) Restore(ctx context.Context, ref providers.Ref) error {
	sd, ok := p.Provider.(providers.SoftDeleter)
	if !ok {
		return nil
	}
	return p.timed(OpRestore, func() error { return sd.Restore(ctx, ref) })
}
