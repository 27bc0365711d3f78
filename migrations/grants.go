package migrations

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// RuntimePrivileges is, per table, exactly what the server's runtime role may do: what
// the statements of the event store, the projections, the queries, the local_encrypted
// provider, the NATS relay and the board tokens need while serving. ledger_events gets
// INSERT and SELECT only, so the server's own credentials cannot change, remove or
// truncate an event, nor touch the triggers that refuse it. Rebuilding read models
// (new tables swapped in), rekeying (SELECT … FOR UPDATE) and creating or revoking board tokens
// (the first one too) run as the owner.
//
// A table that is not listed gets DefaultRuntimePrivileges; list a new table here when
// it needs less (or more).
var RuntimePrivileges = map[string][]string{
	"ledger_events":                   {"SELECT", "INSERT"},
	"ledger_checkpoints":              {"SELECT", "INSERT"},                     // signed once, never changed
	"ledger_integrity":                {"SELECT"},                               // where unauthenticated legacy events end
	"ledger_external_policy_upgrade":  {"SELECT"},                               // what companies held before policies
	"ledger_idempotency_keys":         {"SELECT", "INSERT", "UPDATE", "DELETE"}, // UPDATE: reuse of an expired key; DELETE: the sweep
	"ledger_idempotent_answers":       {"SELECT", "INSERT", "UPDATE", "DELETE"}, // UPDATE: reuse of an expired key; DELETE: the sweep
	"schema_migrations":               {"SELECT"},                               // /readyz compares it with the binary
	"projection_checkpoints":          {"SELECT", "INSERT", "UPDATE"},
	"company_secrets":                 {"SELECT", "INSERT", "UPDATE"},
	"company_secret_versions":         {"SELECT", "INSERT", "UPDATE"},
	"secret_access_events":            {"SELECT", "INSERT"},
	"local_secret_keys":               {"SELECT", "INSERT", "UPDATE (wrapped_key, destroyed_at)"}, // crypto-shredding on purge; reencrypt_pending is the owner's
	"local_secret_values":             {"SELECT", "INSERT", "DELETE"},                             // DELETE: discarding a write whose append lost
	"local_encrypted_key_check":       {"SELECT", "INSERT"},                                       // rekey replaces it, as the owner
	"board_tokens":                    {"SELECT"},                                                 // tokens are written by the owner only
	"company_secret_bindings":         {"SELECT", "INSERT", "DELETE"},
	"consumer_envs":                   {"SELECT", "INSERT", "UPDATE"},
	"agent_keys":                      {"SELECT", "INSERT", "UPDATE"},
	"relay_cursors":                   {"SELECT", "INSERT", "UPDATE"},
	"event_subscribers":               {"SELECT", "INSERT", "UPDATE"},
	"company_secret_provider_configs": {"SELECT", "INSERT", "UPDATE"},
	"ledger_leases":                   {"SELECT", "INSERT", "UPDATE", "DELETE"}, // DELETE: release on shutdown
	"ledger_streams":                  {"SELECT", "INSERT", "UPDATE"},           // the version counters of appends
	"ledger_appends":                  {"SELECT", "INSERT", "DELETE"},           // DELETE: the sealer moves them into ledger_events
	"ledger_log":                      {"SELECT"},                               // a view
}

// DefaultRuntimePrivileges is what the runtime role gets on a table RuntimePrivileges
// does not list: plain data access, never TRUNCATE, REFERENCES or TRIGGER.
var DefaultRuntimePrivileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE"}

// GrantRuntime gives role exactly the runtime privileges on every table and sequence of
// the current schema that the connected user owns (and views): first everything role held on them
// is revoked, then RuntimePrivileges (or the default) is granted, and USAGE, SELECT on
// sequences. It runs in one transaction under the migrations' advisory lock, so it is
// safe to run on every start and after every migration run, from several processes at
// once; tables a new migration adds get their grants the same way. It never grants
// anything on the schema but USAGE, and only when role lacks it.
func GrantRuntime(ctx context.Context, conn *pgx.Conn, role string) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT c.relname, c.relkind = 'S' FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'S', 'v')
			AND pg_has_role(current_user, c.relowner, 'USAGE') ORDER BY c.relname`)
		type object struct {
			name     string
			sequence bool
		}
		objects, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (object, error) {
			var o object
			err := row.Scan(&o.name, &o.sequence)
			return o, err
		})
		if err != nil {
			return err
		}
		grantee := pgx.Identifier{role}.Sanitize()
		for _, o := range objects {
			name := pgx.Identifier{o.name}.Sanitize()
			privs := "USAGE, SELECT"
			if !o.sequence {
				privs = strings.Join(PrivilegesFor(o.name), ", ")
			}
			if _, err := tx.Exec(ctx, "REVOKE ALL ON "+name+" FROM "+grantee); err != nil {
				return fmt.Errorf("revoke on %s: %w", o.name, err)
			}
			if _, err := tx.Exec(ctx, "GRANT "+privs+" ON "+name+" TO "+grantee); err != nil {
				return fmt.Errorf("grant on %s: %w", o.name, err)
			}
		}
		var usage bool
		if err := tx.QueryRow(ctx, `SELECT has_schema_privilege($1, current_schema(), 'USAGE')`, role).Scan(&usage); err != nil {
			return err
		}
		if !usage {
			var schema string
			if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "GRANT USAGE ON SCHEMA "+pgx.Identifier{schema}.Sanitize()+" TO "+grantee); err != nil {
				return fmt.Errorf("grant usage on schema %s: %w", schema, err)
			}
		}
		return nil
	})
	var pgErr *pgconn.PgError
	if err != nil && !errors.As(err, &pgErr) {
		return ledgererr.Wrap(err, ledgererr.Unavailable, "database unreachable")
	}
	if err != nil {
		return fmt.Errorf("migrations: grant the runtime privileges to role %q: %w", role, err)
	}
	return nil
}

// PrivilegesFor returns the runtime privileges of table, sorted.
func PrivilegesFor(table string) []string {
	privs, ok := RuntimePrivileges[table]
	if !ok {
		privs = DefaultRuntimePrivileges
	}
	out := append([]string(nil), privs...)
	sort.Strings(out)
	return out
}
