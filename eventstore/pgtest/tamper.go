package pgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Tamper runs stmts on the database at url as its owner with triggers off
// (session_replication_role = replica), as an attacker with database access would:
// the log's immutability triggers do not fire.
func Tamper(t testing.TB, url string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, stmt := range append([]string{`SET session_replication_role = replica`}, stmts...) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("pgtest: %s: %v", stmt, err)
		}
	}
}

// RehashFrom is SQL that recomputes prev_hash and hash of every row of ledger_events
// at or after position from, in position order, exactly as the ledger computes them:
// what an attacker who edited, removed, reordered or inserted rows does next so that
// the chain is internally consistent again. It needs no secret: the chain is keyless.
// Run it with Tamper.
func RehashFrom(from int64) string {
	return fmt.Sprintf(`DO $$
DECLARE r record; prev bytea; h bytea;
BEGIN
	SELECT hash INTO prev FROM ledger_events WHERE position < %[1]d ORDER BY position DESC LIMIT 1;
	IF prev IS NULL THEN prev := decode(repeat('00', 32), 'hex'); END IF;
	FOR r IN SELECT * FROM ledger_events WHERE position >= %[1]d ORDER BY position LOOP
		h := sha256(prev || %[2]s);
		UPDATE ledger_events SET prev_hash = prev, hash = h WHERE position = r.position;
		prev := h;
	END LOOP;
END $$`, from, canonicalBytes("r"))
}

// canonicalBytes is SQL for the bytes the chain hash covers of the row r (see
// eventstore's chainHash).
func canonicalBytes(r string) string {
	field := func(expr string) string {
		b := "convert_to(" + expr + ", 'UTF8')"
		return "int4send(length(" + b + ")) || " + b
	}
	parts := []string{
		field(r + ".position::text"), field(r + ".event_id"), field(r + ".stream_id"), field(r + ".stream_version::text"),
		field(r + ".event_type"), field(r + ".schema_version::text"), field(r + ".company_id"), field(r + ".payload::text"),
		field(r + ".metadata::text"), field(`to_char(` + r + `.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`),
	}
	return strings.Join(parts, " || ")
}

// Forged is an event an attacker appends.
type Forged struct {
	EventID, StreamID, Type, CompanyID string
	StreamVersion                      int64
	SchemaVersion                      int
	Payload                            string // JSON
}

// ForgedAppend is one INSERT that appends f at the head of ledger_events with a correct
// prev_hash and hash and no MAC: what someone who may only INSERT (the runtime role)
// can add without any key. Like ForgeEvent it moves the position sequence past the
// forged position. Run it on a connection as that role.
func ForgedAppend(f Forged) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return fmt.Sprintf(`INSERT INTO ledger_events (position, event_id, stream_id, stream_version, event_type, schema_version,
		company_id, payload, metadata, recorded_at, prev_hash, hash)
	SELECT r.position, r.event_id, r.stream_id, r.stream_version, r.event_type, r.schema_version, r.company_id, r.payload,
		r.metadata, r.recorded_at, r.prev, sha256(r.prev || %s)
	FROM (SELECT coalesce((SELECT max(position) FROM ledger_events), 0) + 1 AS position, %s::text AS event_id,
		%s::text AS stream_id, %d::bigint AS stream_version, %s::text AS event_type, %d AS schema_version,
		%s::text AS company_id, %s::jsonb AS payload, '{}'::jsonb AS metadata, date_trunc('microseconds', now()) AS recorded_at,
		coalesce((SELECT hash FROM ledger_events ORDER BY position DESC LIMIT 1), decode(repeat('00', 32), 'hex')) AS prev) r,
		LATERAL (SELECT nextval('ledger_position_seq')) bump`,
		canonicalBytes("r"), q(f.EventID), q(f.StreamID), f.StreamVersion, q(f.Type), f.SchemaVersion, q(f.CompanyID), q(f.Payload))
}
