package pgtest

import (
	"bytes"

	"github.com/secretsledger/secretsledger/eventstore/integrity"
)

// IntegrityKey is the integrity key of tests' stores (eventstore.Config.Authenticator):
// a fixed one, so that any test can check the MACs another part wrote.
var IntegrityKey = func() integrity.Key {
	k, err := integrity.FromSecret(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// ForgeEvent is SQL that appends one event to ledger_events with a correct prev_hash
// and hash, computed from the head row exactly as the ledger computes them, and the
// given mac expression (NULL, or a bytea literal), in a stream of its own
// (streamID-<position>): what someone who holds only the
// runtime role's credentials can do. It needs no privilege beyond INSERT and SELECT
// (and USAGE on the position sequence, which it moves past the forged position as a
// forger would, so that the next append does not take it).
func ForgeEvent(streamID, mac string) string {
	return `WITH head AS (SELECT position, hash FROM ledger_events ORDER BY position DESC LIMIT 1),
r AS (SELECT coalesce((SELECT position FROM head), 0) + 1 AS position,
		'01FORGED' || lpad(coalesce((SELECT position FROM head), 0)::text, 18, '0') AS event_id,
		'` + streamID + `-' || (coalesce((SELECT position FROM head), 0) + 1)::text AS stream_id, 1::bigint AS stream_version, 'forged.event'::text AS event_type,
		1 AS schema_version, 'forged-co'::text AS company_id, '{}'::jsonb AS payload, '{}'::jsonb AS metadata,
		date_trunc('microseconds', now()) AS recorded_at,
		coalesce((SELECT hash FROM head), decode(repeat('00', 32), 'hex')) AS prev_hash),
bump AS MATERIALIZED (SELECT nextval('ledger_position_seq') AS v)
INSERT INTO ledger_events (position, event_id, stream_id, stream_version, event_type, schema_version, company_id,
	payload, metadata, recorded_at, prev_hash, hash, mac)
SELECT position, event_id, stream_id, stream_version, event_type, schema_version, company_id, payload, metadata,
	recorded_at, prev_hash, sha256(r.prev_hash || ` + canonicalBytes("r") + `), ` + mac + ` FROM r CROSS JOIN bump`
}
