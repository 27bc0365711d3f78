package app

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
)

// CheckpointSource is a set of signed checkpoints and where it came from: the
// ledger_checkpoints table, or an exported copy.
type CheckpointSource struct {
	Name        string
	Checkpoints []checkpoint.Checkpoint
}

// Verification is the log's hash chain walked, and each source's checkpoints audited
// against it.
type Verification struct {
	Log     eventstore.VerifyReport
	Sources []SourceAudit
}

// SourceAudit is one source's checkpoints audited against the chain.
type SourceAudit struct {
	CheckpointSource
	checkpoint.Result
}

// Verify walks the log's hash chain, recording the hash at the position of every
// checkpoint of ledger_checkpoints and of the exported sources, and audits each set
// (the table's first) against it. key is asked for the public key only when there is a
// checkpoint to check: an instance that has signed nothing needs no key.
func (a *App) Verify(ctx context.Context, exported []CheckpointSource, key func() (ed25519.PublicKey, error)) (Verification, error) {
	table, err := a.Store.Checkpoints(ctx)
	if err != nil {
		return Verification{}, err
	}
	sources := append([]CheckpointSource{{"ledger_checkpoints", table}}, exported...)
	var pub ed25519.PublicKey
	var positions []int64
	for _, s := range sources {
		for _, c := range s.Checkpoints {
			positions = append(positions, c.Position)
		}
	}
	if len(positions) > 0 {
		if pub, err = key(); err != nil {
			return Verification{}, err
		}
	}
	// Verify covers what was acknowledged before it started, once sealed; a sealer that
	// is down leaves it to the sealed log (doctor reports the backlog).
	sealCtx, cancel := context.WithTimeout(ctx, verifySealWait)
	_, _ = a.Store.SealedThrough(sealCtx)
	cancel()
	rep, err := a.Store.VerifyAt(ctx, positions)
	if err != nil {
		return Verification{}, err
	}
	chain := checkpoint.Chain{HeadPosition: rep.HeadPosition, BrokenAt: rep.BrokenAt, Observed: map[int64]checkpoint.Point{}}
	for p, c := range rep.Observed {
		chain.Observed[p] = checkpoint.Point{Hash: c.Hash, RecordedAt: c.RecordedAt}
	}
	v := Verification{Log: rep}
	for _, s := range sources {
		v.Sources = append(v.Sources, SourceAudit{s, checkpoint.Audit(chain, s.Checkpoints, pub)})
	}
	return v, nil
}

// verifySealWait bounds verify's wait for the sealer to chain what was acknowledged
// before it started.
const verifySealWait = 10 * time.Second
