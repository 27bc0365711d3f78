package eventstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
)

// Head is the log's last event: what a checkpoint signs.
type Head struct {
	Position   int64
	Hash       []byte
	RecordedAt time.Time
}

// Head returns the log's last event; Position 0 when the log is empty.
func (s *Store) Head(ctx context.Context) (Head, error) {
	var h Head
	err := s.pool.QueryRow(ctx, `SELECT position, hash, recorded_at FROM ledger_events ORDER BY position DESC LIMIT 1`).
		Scan(&h.Position, &h.Hash, &h.RecordedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Head{}, nil
	}
	return h, storeError("read head", err)
}

// RecordCheckpoint stores a signed checkpoint with the public key it verifies under.
// Several processes may sign the same head: the first row of a position stays, and
// inserted reports whether this one was it.
func (s *Store) RecordCheckpoint(ctx context.Context, c checkpoint.Checkpoint, publicKey string) (inserted bool, err error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO ledger_checkpoints (position, hash, recorded_at, instance_id, public_key, signature)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (position) DO NOTHING`,
		c.Position, c.Hash, c.RecordedAt, c.InstanceID, publicKey, c.Signature)
	if err != nil {
		return false, storeError("record checkpoint", err)
	}
	return tag.RowsAffected() == 1, nil
}

// LatestCheckpoint returns the position of the newest stored checkpoint (0 when none).
func (s *Store) LatestCheckpoint(ctx context.Context) (int64, error) {
	var p int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM ledger_checkpoints`).Scan(&p)
	return p, storeError("read checkpoints", err)
}

// StoredCheckpoint is a checkpoint as ledger_checkpoints holds it: with the public key
// it was recorded with and when it was stored.
type StoredCheckpoint struct {
	checkpoint.Checkpoint
	// PublicKey is the signer's key in checkpoint.PublicKeyText's form. It is stored
	// beside the signature, so a signature that verifies under it proves the row
	// consistent, not that the instance's own key signed it: compare it with the key
	// kept apart from the database.
	PublicKey string
	SignedAt  time.Time
}

// NewestCheckpoint returns the stored checkpoint of the highest position; found is
// false when none is stored yet.
func (s *Store) NewestCheckpoint(ctx context.Context) (c StoredCheckpoint, found bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT position, hash, recorded_at, instance_id, signature, public_key, signed_at
		FROM ledger_checkpoints ORDER BY position DESC LIMIT 1`).
		Scan(&c.Position, &c.Hash, &c.RecordedAt, &c.InstanceID, &c.Signature, &c.PublicKey, &c.SignedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return StoredCheckpoint{}, false, nil
	}
	if err != nil {
		return StoredCheckpoint{}, false, storeError("read checkpoints", err)
	}
	return c, true, nil
}

// Checkpoints returns every stored checkpoint in position order.
func (s *Store) Checkpoints(ctx context.Context) ([]checkpoint.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT position, hash, recorded_at, instance_id, signature FROM ledger_checkpoints ORDER BY position`)
	if err != nil {
		return nil, storeError("read checkpoints", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (checkpoint.Checkpoint, error) {
		var c checkpoint.Checkpoint
		err := r.Scan(&c.Position, &c.Hash, &c.RecordedAt, &c.InstanceID, &c.Signature)
		return c, err
	})
	return out, storeError("read checkpoints", err)
}
