package eventstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// authPage bounds the rows one query of Authenticated reads.
const authPage = 10_000

var errFound = errors.New("eventstore: found")

// Authentication is what Authenticated found in a range of the log.
type Authentication struct {
	// Last is the last event of the range before the first one that is not
	// authenticated (the range's last event when all are); Position is the range's
	// start, and Hash nil, when its first event already fails.
	Last Head
	// ForgedAt is the first position of the range whose event has no valid MAC (a
	// missing one above legacy_through, or a wrong one); 0 when every event has one.
	ForgedAt int64
}

// Authenticated checks the MACs of the events at positions after..to, in position
// order and bounded pages, and stops at the first one the writer did not
// authenticate: what the checkpoint signer may sign is Last. It needs the store's
// Authenticator.
func (s *Store) Authenticated(ctx context.Context, after, to int64) (Authentication, error) {
	res := Authentication{Last: Head{Position: after}}
	if s.cfg.Authenticator == nil {
		return res, errNoAuthenticator
	}
	legacy, err := s.LegacyThrough(ctx)
	if err != nil {
		return res, err
	}
	macs := &macCheck{auth: s.cfg.Authenticator, legacyThrough: legacy}
	for res.Last.Position < to {
		rows, err := s.pool.Query(ctx, `SELECT position, hash, mac, recorded_at FROM ledger_events
			WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`, res.Last.Position, to, authPage)
		if err != nil {
			return res, storeError("read event MACs", err)
		}
		var pos int64
		var hash, mac []byte
		var at time.Time
		n := 0
		_, err = pgx.ForEachRow(rows, []any{&pos, &hash, &mac, &at}, func() error {
			n++
			if !macs.authentic(pos, hash, mac) {
				res.ForgedAt = pos
				return errFound // the rest of the page is not needed
			}
			res.Last = Head{Position: pos, Hash: append([]byte(nil), hash...), RecordedAt: at}
			return nil
		})
		if err != nil && !errors.Is(err, errFound) {
			return res, storeError("read event MACs", err)
		}
		if res.ForgedAt != 0 || n < authPage {
			return res, nil
		}
	}
	return res, nil
}
