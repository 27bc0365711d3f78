package eventstore

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// SweepIdempotencyKeys deletes the idempotency records and kept answers older than the
// TTL and returns how many it deleted. Appends and KeptAnswer already ignore expired
// rows; the sweep keeps the tables from growing without bound.
func (s *Store) SweepIdempotencyKeys(ctx context.Context) (int64, error) {
	var n int64
	for _, table := range []string{"ledger_idempotency_keys", "ledger_idempotent_answers"} {
		tag, err := s.pool.Exec(ctx, `DELETE FROM `+table+` WHERE recorded_at <= $1`, s.now().Add(-s.cfg.IdempotencyTTL))
		if err != nil {
			return n, storeError("sweep idempotency keys", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// KeepAnswer keeps the sealed answer of caller's request with an idempotency key, for
// KeptAnswer. The first answer kept for a key wins until it expires; another one for
// the same key is dropped (a request racing the first with the same key). The answer
// is opaque here: the HTTP layer seals it, so the database alone cannot read it.
func (s *Store) KeepAnswer(ctx context.Context, caller, key string, requestHash, sealed []byte) error {
	now := s.now()
	_, err := s.pool.Exec(ctx, `INSERT INTO ledger_idempotent_answers
		(caller, idempotency_key, request_hash, sealed_answer, recorded_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (caller, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash,
			sealed_answer = excluded.sealed_answer, recorded_at = excluded.recorded_at
		WHERE ledger_idempotent_answers.recorded_at <= $6`,
		caller, key, requestHash, sealed, now, now.Add(-s.cfg.IdempotencyTTL))
	if err != nil {
		return storeError("keep an idempotent answer", err)
	}
	return nil
}

// KeptAnswer returns the sealed answer KeepAnswer kept for caller's key and the same
// request hash, unless it is older than the TTL; the key kept for another request is
// a conflict, counted as one of the appends' (ConflictIdempotency), which it stands in
// for: the command never reaches its append.
func (s *Store) KeptAnswer(ctx context.Context, caller, key string, requestHash []byte) (sealed []byte, found bool, err error) {
	var kept []byte
	err = s.pool.QueryRow(ctx, `SELECT request_hash, sealed_answer FROM ledger_idempotent_answers
		WHERE caller = $1 AND idempotency_key = $2 AND recorded_at > $3`,
		caller, key, s.now().Add(-s.cfg.IdempotencyTTL)).Scan(&kept, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeError("read an idempotent answer", err)
	}
	if !bytes.Equal(kept, requestHash) {
		s.cfg.Observer.Conflict(ConflictIdempotency)
		return nil, true, ledgererr.New(ledgererr.Conflict, "idempotency key %q was already used for a different request", key)
	}
	return sealed, true, nil
}

// SweepInterval is how often a server runs SweepIdempotencyKeys: a tenth of the TTL,
// between a second and ten minutes.
func (s *Store) SweepInterval() time.Duration {
	return min(max(s.cfg.IdempotencyTTL/10, time.Second), 10*time.Minute)
}

// Idempotent answers whether idem was already used in company, outside any append: the
// first result again (Replayed set) for the same request, a conflict for another. It
// lets a command skip side effects, such as a provider write, that a retry must not
// repeat; the append re-checks under its lock.
func (s *Store) Idempotent(ctx context.Context, company string, idem *Idempotency) (AppendResult, bool, error) {
	if idem == nil {
		return AppendResult{}, false, nil
	}
	var rec idemRecord
	err := s.pool.QueryRow(ctx, `SELECT request_hash, stream_id, first_position, last_position, stream_version
		FROM ledger_idempotency_keys WHERE company_id = $1 AND idempotency_key = $2 AND recorded_at > $3`,
		company, idem.Key, s.now().Add(-s.cfg.IdempotencyTTL)).
		Scan(&rec.hash, &rec.result.StreamID, &rec.result.FirstPosition, &rec.result.LastPosition, &rec.result.StreamVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return AppendResult{}, false, nil
	}
	if err != nil {
		return AppendResult{}, false, storeError("read idempotency key", err)
	}
	out := replayOrConflict(rec, idem)
	if out.conflict != "" {
		s.cfg.Observer.Conflict(out.conflict)
	}
	return out.res, true, out.err
}
