package signer

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
)

// Log is the part of the event store the signer uses.
type Log interface {
	Head(ctx context.Context) (eventstore.Head, error)
	LatestCheckpoint(ctx context.Context) (int64, error)
	RecordCheckpoint(ctx context.Context, c checkpoint.Checkpoint, publicKey string) (bool, error)
	// Authenticated checks the MACs of the events after..to (eventstore.Store's, under
	// the integrity key).
	Authenticated(ctx context.Context, after, to int64) (eventstore.Authentication, error)
}

// finalTimeout bounds the signing of the final head at shutdown.
const finalTimeout = 5 * time.Second

// Signer signs the head of the log once it has moved EveryEvents events past the last
// checkpoint, and at least every Interval when it has moved at all; and once more when
// it stops. Each ledger process runs one: they may sign the same head, and the table
// keeps the first row of a position.
//
// It signs only what the ledger's writer authenticated: before signing, it checks the
// MAC of every event since the last checkpoint, and at the first event without a valid
// one (a row inserted by a database writer) it signs up to just before it and raises
// the alert (ForgedAt, an ERROR log line) until that event is no longer in its way.
type Signer struct {
	Log        Log
	Key        ed25519.PrivateKey
	InstanceID string
	// EveryEvents and Interval are the two triggers (both required, > 0).
	EveryEvents int64
	Interval    time.Duration
	// Wake is signalled after commits, so the event count is checked at once.
	Wake <-chan struct{}
	// Publish, when set, gets every checkpoint this process signs (NATS). An error is
	// logged and the checkpoint stays signed and stored: a transport down degrades the
	// copies outside the database, never the signing.
	Publish []func(context.Context, checkpoint.Checkpoint) error
	Logger  *slog.Logger

	last     int64
	forgedAt atomic.Int64
}

// ForgedAt is the position of the first event after the newest checkpoint that the
// signer found without a valid MAC, and will not sign past; 0 when none. It is safe to
// call from any goroutine (metrics, /readyz).
func (s *Signer) ForgedAt() int64 { return s.forgedAt.Load() }

// Run signs until ctx ends, then signs the final head.
func (s *Signer) Run(ctx context.Context) error {
	if s.EveryEvents <= 0 || s.Interval <= 0 {
		return fmt.Errorf("signer: EveryEvents and Interval must be positive")
	}
	for {
		last, err := s.Log.LatestCheckpoint(ctx)
		if err == nil {
			s.last = last
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		s.Logger.Warn("checkpoint signer cannot read the newest checkpoint; retrying", "err", err)
		if !sleep(ctx, time.Second) {
			return nil
		}
	}
	tick := time.NewTicker(s.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalTimeout)
			defer cancel()
			s.signIf(fctx, 1)
			return nil
		case <-s.Wake:
			// Stopped at a forged event, the signer cannot move until it is dealt
			// with: it looks again on the ticks, not on every commit.
			if f := s.forgedAt.Load(); f == 0 || f != s.last+1 {
				s.signIf(ctx, s.EveryEvents)
			}
		case <-tick.C:
			s.signIf(ctx, 1)
		}
	}
}

// signIf signs the head when it is at least minMoved events past the last checkpoint.
func (s *Signer) signIf(ctx context.Context, minMoved int64) {
	head, err := s.Log.Head(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.Logger.Warn("checkpoint signer cannot read the head", "err", err)
		}
		return
	}
	if head.Position-s.last < minMoved || head.Position <= s.last {
		return
	}
	if head, err = s.authenticated(ctx, head); err != nil || head.Position <= s.last {
		return
	}
	if _, err := s.Sign(ctx, head); err != nil {
		s.Logger.Warn("checkpoint not recorded; the next trigger retries", "position", head.Position, "err", err)
	}
}

// authenticated returns what of the log up to head the signer may sign: head, or the
// event before the first one without a valid MAC, which raises the alert.
func (s *Signer) authenticated(ctx context.Context, head eventstore.Head) (eventstore.Head, error) {
	auth, err := s.Log.Authenticated(ctx, s.last, head.Position)
	if err != nil {
		if ctx.Err() == nil {
			s.Logger.Warn("checkpoint signer cannot check the events' MACs; the next trigger retries", "err", err)
		}
		return head, err
	}
	if auth.ForgedAt == 0 {
		s.forgedAt.Store(0)
		return head, nil
	}
	if s.forgedAt.Swap(auth.ForgedAt) != auth.ForgedAt {
		s.Logger.Error("the log holds an event the ledger did not write (no valid MAC): checkpoints stop before it; run `secretsledger verify`",
			"position", auth.ForgedAt)
	}
	return auth.Last, nil
}

// Sign signs head, records it and publishes it. The checkpoint is returned once it is
// recorded; publishing failures are logged. Run calls it; it is not for concurrent use.
func (s *Signer) Sign(ctx context.Context, head eventstore.Head) (checkpoint.Checkpoint, error) {
	c := checkpoint.Sign(s.Key, checkpoint.Checkpoint{Position: head.Position, Hash: head.Hash,
		RecordedAt: head.RecordedAt, InstanceID: s.InstanceID})
	if _, err := s.Log.RecordCheckpoint(ctx, c, checkpoint.PublicKeyText(s.Key.Public().(ed25519.PublicKey))); err != nil {
		return c, err
	}
	s.last = head.Position
	for _, publish := range s.Publish {
		if err := publish(ctx, c); err != nil {
			s.Logger.Warn("checkpoint signed and stored, but not published", "position", c.Position, "err", err)
		}
	}
	s.Logger.Debug("signed a checkpoint", "position", c.Position)
	return c, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
