package eventstore

import (
	"context"
)

// authPage bounds the rows one query of Authenticated reads.
const authPage = 1_000

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

// Authenticated checks the events at positions after..to, in position order and bounded
// pages, and stops at the first one the writer did not authenticate (its hash does not
// match its content, or it has no valid MAC of that hash): what the checkpoint signer
// may sign is Last. A range that this store's own sealer chained, it answers from
// memory (recentSealed): those events are the sealer's own work. It needs the store's
// Authenticator.
func (s *Store) Authenticated(ctx context.Context, after, to int64) (Authentication, error) {
	res := Authentication{Last: Head{Position: after}}
	if s.cfg.Authenticator == nil {
		return res, errNoAuthenticator
	}
	if last, ok := s.recent.through(after, to); ok {
		return Authentication{Last: last}, nil
	}
	legacy, err := s.LegacyThrough(ctx)
	if err != nil {
		return res, err
	}
	macs := &macCheck{auth: s.cfg.Authenticator, legacyThrough: legacy}
	for res.Last.Position < to {
		rows, err := s.pool.Query(ctx, selectEventsWithMAC+`WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`,
			res.Last.Position, to, authPage)
		if err != nil {
			return res, storeError("read event MACs", err)
		}
		n := 0
		for rows.Next() {
			n++
			r, err := scanStored(rows)
			if err != nil {
				rows.Close()
				return res, storeError("read event MACs", err)
			}
			if !macs.authenticStored(r) {
				res.ForgedAt = r.Position
				rows.Close() // the rest of the page is not needed
				return res, nil
			}
			res.Last = Head{Position: r.Position, Hash: r.Hash, RecordedAt: r.RecordedAt}
		}
		if err := rows.Err(); err != nil {
			return res, storeError("read event MACs", err)
		}
		if n < authPage {
			return res, nil
		}
	}
	return res, nil
}
