package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// rebuildPage is how many events a rebuild folds per round trip by default: large
// enough that a page's statements carry thousands of rows each, small enough that a
// page and the next one in flight stay a few megabytes.
const rebuildPage = 5000

// The schemas a rebuild works in, next to the live one. A leftover of either (a rebuild
// that died before its swap) is dropped by the next rebuild.
// WARNING: persisted names: a database may hold them between two rebuilds.
const (
	// ShadowSchema holds the read models a rebuild is building.
	ShadowSchema = "ledger_rebuild"
	// RetiredSchema holds, inside the swap transaction only, the read models it replaces.
	RetiredSchema = "ledger_rebuild_old"
)

// swapLockTimeout bounds how long the swap waits for a query that reads a live read
// model, appends being blocked meanwhile.
const swapLockTimeout = 5 * time.Second

// rebuildLockKey lets one rebuild run at a time (a session-level advisory lock); apart
// from the migrations' (\x01), the appends' (\x02) and the NATS relay's (\x03) keys.
const rebuildLockKey int64 = 0x5345435245545310 // "SECRETS\x10"

// Rebuilder rebuilds read models from the log while the ledger keeps appending.
//
// It folds the log, as far as the head it sees when it starts, into shadow tables (the
// schema ShadowSchema, each table created like its live one), without the append lock
// and in short transactions of its own (one per page), while appends go on projecting
// inline into the live tables: the sealer waits for every transaction older than its
// probe, so one transaction over the whole fold would stop the sealing until it ended.
// Then one short transaction takes the append lock, folds the events appended
// meanwhile, swaps the shadow tables in for the live ones (with the owner and
// privileges of the tables they replace), and sets the projections' checkpoints.
// Readers see the old rows until that commits and the new ones after; an append is
// projected either into the live tables before the swap (and then folded from the log
// into the shadow ones) or into the new tables after it. A rebuild that fails or is
// cancelled leaves the live tables as they were, and drops its shadow when it can.
//
// The projectors run unchanged: their SQL names tables without a schema, and the
// rebuild's transactions put ShadowSchema first on the search_path.
type Rebuilder struct {
	Pool        *pgxpool.Pool
	Projections []Projection
	// AfterPage, when set, is called after each page folded before the swap, with the
	// number of events applied so far; an error it returns stops the rebuild. Progress
	// reporting uses it, and tests hold a rebuild mid-way with it.
	AfterPage func(ctx context.Context, applied int64) error
	// PageSize is how many events the fold reads and applies per round trip; 0 means
	// 5,000 (eventstore.MaxReadLimit at most).
	PageSize int
}

// RebuildResult is what a rebuild did.
type RebuildResult struct {
	// Events is how many events were folded, in all.
	Events int64
	// Head is the position the shadow fold ran to without the append lock.
	Head int64
	// CaughtUp is how many events were appended during the fold and folded under the
	// append lock.
	CaughtUp int64
	// Blocked is how long appends were blocked: the swap transaction, from taking the
	// append lock to its commit.
	Blocked time.Duration
}

// Rebuild rebuilds the read models of ps from the log with Rebuilder and returns how
// many events it applied.
func Rebuild(ctx context.Context, pool *pgxpool.Pool, ps []Projection) (int64, error) {
	res, err := Rebuilder{Pool: pool, Projections: ps}.Run(ctx)
	return res.Events, err
}

// ErrRebuildRunning is the error of a rebuild started while another one runs.
var ErrRebuildRunning = ledgererr.New(ledgererr.Conflict, "another rebuild of the read models is running")

// Run rebuilds the read models. A second Run while one is under way (in any process)
// fails at once with ErrRebuildRunning.
func (r Rebuilder) Run(ctx context.Context) (RebuildResult, error) {
	var res RebuildResult
	conn, err := r.Pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("projections: rebuild: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, rebuildLockKey).Scan(&locked); err != nil {
		return res, fmt.Errorf("projections: rebuild: %w", err)
	}
	if !locked {
		return res, ErrRebuildRunning
	}
	defer func() {
		// A session lock outlives a cancelled context: unlock regardless, and when even
		// that fails, close the connection, which releases it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, rebuildLockKey); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	s, err := r.prepare(ctx, conn.Conn())
	if err != nil {
		return res, err
	}
	if err := r.fold(ctx, conn.Conn(), s, &res); err != nil {
		return res, err
	}
	if err := r.swap(ctx, conn.Conn(), s, &res); err != nil {
		return res, err
	}
	return res, nil
}

// shadowPlan is what a rebuild learnt of the live schema before folding.
type shadowPlan struct {
	live     string   // the live schema (the connection's current schema)
	tables   []string // the projections' tables, children first
	names    []string // the projections' checkpoint names
	indexes  []string // CREATE INDEX statements for the shadow tables, run after the fold
	keys     []string // ALTER TABLE … ADD CONSTRAINT statements (primary and unique keys), run before it
	foreign  []string // ALTER TABLE … ADD CONSTRAINT statements (foreign keys), run after it
	owners   map[string]string
	grants   map[string][]string // GRANT statements that give the shadow table what the live one grants
	shadowed map[string]bool
}

// prepare drops what an earlier rebuild left, checks that the read models can be
// swapped, and reads their definitions.
func (r Rebuilder) prepare(ctx context.Context, conn *pgx.Conn) (*shadowPlan, error) {
	s := &shadowPlan{owners: map[string]string{}, grants: map[string][]string{}, shadowed: map[string]bool{}}
	for _, p := range r.Projections {
		s.tables = append(s.tables, p.Tables()...)
		s.names = append(s.names, p.Name())
	}
	for _, t := range s.tables {
		s.shadowed[t] = true
	}
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&s.live); err != nil {
		return nil, fmt.Errorf("projections: rebuild: %w", err)
	}
	for _, schema := range []string{ShadowSchema, RetiredSchema} {
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			return nil, fmt.Errorf("projections: rebuild: drop the leftover schema %s: %w", schema, err)
		}
	}
	if err := s.checkSwappable(ctx, conn); err != nil {
		return nil, err
	}
	if err := s.readDefinitions(ctx, conn); err != nil {
		return nil, err
	}
	return s, nil
}

// checkSwappable refuses read models with what a swap cannot carry over: objects that
// hold on to a live table by its id (they would follow it into the retired schema and be
// dropped with it) or that LIKE does not copy.
func (s *shadowPlan) checkSwappable(ctx context.Context, conn *pgx.Conn) error {
	qualified := make([]string, len(s.tables))
	for i, t := range s.tables {
		qualified[i] = s.live + "." + t
	}
	var blockers []string
	rows, err := conn.Query(ctx, `
		SELECT format('view %s reads %s', v.oid::regclass, d.refobjid::regclass)
		FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
		WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = ANY($1::regclass[]) AND v.oid <> d.refobjid
		UNION SELECT format('foreign key %s of %s references %s', conname, conrelid::regclass, confrelid::regclass)
		FROM pg_constraint WHERE contype = 'f' AND confrelid = ANY($1::regclass[]) AND NOT conrelid = ANY($1::regclass[])
		UNION SELECT format('trigger %s on %s', tgname, tgrelid::regclass)
		FROM pg_trigger WHERE tgrelid = ANY($1::regclass[]) AND NOT tgisinternal
		UNION SELECT format('policy %s on %s', polname, polrelid::regclass)
		FROM pg_policy WHERE polrelid = ANY($1::regclass[])
		UNION SELECT format('sequence %s of %s', d.objid::regclass, d.refobjid::regclass)
		FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.refobjid = ANY($1::regclass[])
			AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'`, qualified)
	if err == nil {
		blockers, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return fmt.Errorf("projections: rebuild: inspect the read models: %w", err)
	}
	if len(blockers) > 0 {
		return ledgererr.New(ledgererr.Invalid, "the read models cannot be rebuilt beside the live ones: %s", strings.Join(blockers, "; "))
	}
	return nil
}

// readDefinitions reads the read models' keys, foreign keys, indexes, owners and grants,
// printed with every name qualified (search_path pg_catalog), so that retargeting them at
// the shadow schema is a plain replacement.
func (s *shadowPlan) readDefinitions(ctx context.Context, conn *pgx.Conn) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL search_path = pg_catalog`); err != nil {
			return err
		}
		for _, t := range s.tables {
			if err := s.readTableDefinition(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("projections: rebuild: read the read models' definitions: %w", err)
	}
	return nil
}

// readTableDefinition adds table t's definitions to the plan, retargeted at its shadow.
func (s *shadowPlan) readTableDefinition(ctx context.Context, tx pgx.Tx, t string) error {
	from, to := s.live+"."+t, ShadowSchema+"."+t
	rows, err := tx.Query(ctx, `
		SELECT 'k', format('ALTER TABLE %s ADD CONSTRAINT %I %s', $2::text, conname, pg_get_constraintdef(oid))
		FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x')
		UNION ALL SELECT 'f', format('ALTER TABLE %s ADD CONSTRAINT %I %s', $2::text, conname, pg_get_constraintdef(oid))
		FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'
		UNION ALL SELECT 'i', pg_get_indexdef(i.indexrelid) FROM pg_index i
		WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
		UNION ALL SELECT 'o', quote_ident(pg_get_userbyid(relowner)) FROM pg_class WHERE oid = $1::regclass
		UNION ALL SELECT 'g', format('GRANT %s ON %s TO %s%s', a.privilege_type, $2::text,
			CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
			CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
		FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
		WHERE c.oid = $1::regclass AND a.grantee <> c.relowner`, from, to)
	if err != nil {
		return err
	}
	var kind, stmt string
	_, err = pgx.ForEachRow(rows, []any{&kind, &stmt}, func() error {
		switch kind {
		case "k":
			s.keys = append(s.keys, stmt)
		case "f":
			for _, other := range s.tables { // a reference to another read model points at its shadow
				stmt = strings.Replace(stmt, " REFERENCES "+s.live+"."+other+"(", " REFERENCES "+ShadowSchema+"."+other+"(", 1)
			}
			s.foreign = append(s.foreign, stmt)
		case "i":
			shadowed := strings.Replace(stmt, " ON "+from+" ", " ON "+to+" ", 1)
			if shadowed == stmt {
				return fmt.Errorf("index of %s: unexpected definition %q", from, stmt)
			}
			s.indexes = append(s.indexes, shadowed)
		case "o":
			s.owners[t] = stmt
		case "g":
			s.grants[t] = append(s.grants[t], stmt)
		}
		return nil
	})
	return err
}

// page is one page of the fold, its statements queued.
type page struct {
	batch *pgx.Batch
	n     int
	err   error
}

// fold builds the shadow tables and folds the log into them up to the head it sees,
// without the append lock, each page in a transaction of its own. Reading and decoding
// page N+1 (on another connection and goroutine) overlaps the database's work on page
// N. When it fails, it drops the shadow schema (the next rebuild drops what is left).
func (r Rebuilder) fold(ctx context.Context, conn *pgx.Conn, s *shadowPlan, res *RebuildResult) error {
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM ledger_events`).Scan(&res.Head); err != nil {
		return fmt.Errorf("projections: rebuild: read the head: %w", err)
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		ddl := []string{"CREATE SCHEMA " + ShadowSchema}
		// The checkpoints get a shadow too, so that the fold's checkpoint writes never
		// touch (nor lock) the rows the live appends update.
		for _, t := range append(append([]string(nil), s.tables...), "projection_checkpoints") {
			like := "INCLUDING ALL EXCLUDING INDEXES"
			if !s.shadowed[t] {
				like = "INCLUDING ALL"
			}
			ddl = append(ddl, fmt.Sprintf("CREATE TABLE %s.%s (LIKE %s.%s %s)", ShadowSchema, t, s.live, t, like))
		}
		ddl = append(ddl, s.keys...)
		for _, stmt := range ddl {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create the shadow tables: %s: %w", stmt, err)
			}
		}
		return nil
	})
	if err == nil {
		err = r.foldPages(ctx, conn, s, res.Head, res)
	}
	// Secondary indexes and foreign keys are built once, over the whole table, rather
	// than kept up row by row during the fold; each statement is a transaction of its own.
	for _, stmt := range append(append([]string(nil), s.indexes...), s.foreign...) {
		if err != nil {
			break
		}
		if _, err = conn.Exec(ctx, stmt); err != nil {
			err = fmt.Errorf("index the shadow tables: %s: %w", stmt, err)
		}
	}
	if err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(dctx, "DROP SCHEMA IF EXISTS "+ShadowSchema+" CASCADE")
		return fmt.Errorf("projections: rebuild: %w", err)
	}
	return nil
}

// foldPages folds the events up to head into the shadow tables over conn, one
// transaction per page, pipelined: one goroutine reads and decodes pages over the pool
// while conn runs the statements of the page before.
func (r Rebuilder) foldPages(ctx context.Context, conn *pgx.Conn, s *shadowPlan, head int64, res *RebuildResult) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size := r.pageSize()
	pages := make(chan page, 2)
	go func() {
		defer close(pages)
		var after int64
		for after < head {
			evs, err := eventstore.ReadRange(ctx, r.Pool, after, head, size, nil)
			if err == nil && len(evs) == 0 {
				err = fmt.Errorf("the log ends at position %d, before the head %d it had", after, head)
			}
			p := page{batch: &pgx.Batch{}, n: len(evs), err: err}
			if err == nil {
				p.err = Inline(r.Projections).Queue(p.batch, evs)
				Inline(r.Projections).checkpoints(p.batch, evs)
				after = evs[len(evs)-1].Position
			}
			select {
			case pages <- p:
			case <-ctx.Done():
				return
			}
			if p.err != nil {
				return
			}
		}
	}()
	searchPath := "SET LOCAL search_path = " + ShadowSchema + ", " + pgx.Identifier{s.live}.Sanitize()
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, searchPath); err != nil {
				return err
			}
			if err := tx.SendBatch(ctx, p.batch).Close(); err != nil {
				return Inline(r.Projections).Translate(err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.Events += int64(p.n)
		if r.AfterPage != nil {
			if err := r.AfterPage(ctx, res.Events); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// swap folds the events appended during the fold and swaps the shadow tables in, in
// one transaction under the append lock.
func (r Rebuilder) swap(ctx context.Context, conn *pgx.Conn, s *shadowPlan, res *RebuildResult) error {
	var locked time.Time
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := eventstore.LockAppends(ctx, tx); err != nil {
			return err
		}
		locked = time.Now()
		// Moving a live table waits for the queries reading it; appends wait behind the
		// swap meanwhile, so a query that holds a table too long fails the swap instead.
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+swapLockTimeout.String()+"'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SET LOCAL search_path = "+ShadowSchema+", "+pgx.Identifier{s.live}.Sanitize()); err != nil {
			return err
		}
		var evs []eventstore.Event
		for after := res.Head; ; {
			var err error
			if evs, err = eventstore.ReadRange(ctx, tx, after, math.MaxInt64, r.pageSize(), evs); err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			if err := Inline(r.Projections).Project(ctx, tx, evs); err != nil {
				return err
			}
			res.CaughtUp += int64(len(evs))
			after = evs[len(evs)-1].Position
		}
		live, shadow, retired := pgx.Identifier{s.live}.Sanitize(), ShadowSchema, RetiredSchema
		stmts := []string{"CREATE SCHEMA " + retired}
		for _, t := range s.tables {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s.%s SET SCHEMA %s", live, t, retired))
		}
		for _, t := range s.tables {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s.%s SET SCHEMA %s", shadow, t, live),
				fmt.Sprintf("ALTER TABLE %s.%s OWNER TO %s", live, t, s.owners[t]))
			for _, g := range s.grants[t] {
				stmts = append(stmts, strings.Replace(g, " ON "+ShadowSchema+"."+t+" ", " ON "+live+"."+t+" ", 1))
			}
		}
		stmts = append(stmts,
			"DROP SCHEMA "+retired+" CASCADE",
			fmt.Sprintf("DELETE FROM %s.projection_checkpoints WHERE projection IN (%s)", live, quoteAll(s.names)),
			fmt.Sprintf("INSERT INTO %s.projection_checkpoints SELECT * FROM %s.projection_checkpoints WHERE projection IN (%s)",
				live, shadow, quoteAll(s.names)),
			"DROP SCHEMA "+shadow+" CASCADE")
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("swap: %s: %w", stmt, err)
			}
		}
		return nil
	})
	if !locked.IsZero() {
		res.Blocked = time.Since(locked)
	}
	if err != nil {
		var le *ledgererr.Error
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &le):
			return err
		case errors.As(err, &pgErr) && pgErr.Code == "55P03": // lock_not_available
			return ledgererr.Wrap(err, ledgererr.Unavailable,
				"a query held a read model for more than %s during the swap; the live read models are unchanged, run the rebuild again", swapLockTimeout)
		}
		return fmt.Errorf("projections: rebuild: %w", err)
	}
	res.Events += res.CaughtUp
	return nil
}

func (r Rebuilder) pageSize() int {
	if r.PageSize > 0 {
		return min(r.PageSize, eventstore.MaxReadLimit)
	}
	return rebuildPage
}

// quoteAll is names as a list of SQL string literals.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + strings.ReplaceAll(n, "'", "''") + "'"
	}
	return strings.Join(q, ", ")
}
