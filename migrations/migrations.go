package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

//go:embed *.sql
var embedded embed.FS

// Files is the schema shipped with this binary.
func Files() fs.FS { return embedded }

// lockKey serializes migration runners across processes.
// WARNING: persisted contract between ledger versions; never change it.
const lockKey int64 = 0x5345435245545301 // "SECRETS\x01"

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migration is one schema file.
type Migration struct {
	Version  int
	Name     string // file name, e.g. 0001_ledger_events.sql
	SQL      string
	Checksum string // hex SHA-256 of the file
}

// Applied is a migration recorded in schema_migrations.
type Applied struct {
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
}

// Status compares the files with the database.
type Status struct {
	Applied []Applied
	Pending []Migration
}

// Empty reports whether no migration has ever been applied.
func (s Status) Empty() bool { return len(s.Applied) == 0 }

// Current reports whether every file is applied.
func (s Status) Current() bool { return len(s.Pending) == 0 }

// Load reads and orders the migration files of fsys. Any other file name is an error,
// so that a typo cannot silently skip a migration.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: read files: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: %s: name must look like NNNN_name.sql", e.Name())
		}
		version, _ := strconv.Atoi(m[1])
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("migrations: %s and %s share version %d", other, e.Name(), version)
		}
		seen[version] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: version, Name: e.Name(), SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// ChecksumError reports an applied migration whose file has changed since.
type ChecksumError struct {
	Name             string
	Recorded, OnDisk string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("migrations: %s was edited after it was applied (recorded checksum %.12s…, file %.12s…); "+
		"migrations are forward-only: restore the file and add a new migration instead", e.Name, e.Recorded, e.OnDisk)
}

// Runner applies the migrations of one file set.
type Runner struct {
	files []Migration
}

// NewRunner loads the files of fsys.
func NewRunner(fsys fs.FS) (*Runner, error) {
	files, err := Load(fsys)
	if err != nil {
		return nil, err
	}
	return &Runner{files: files}, nil
}

// Files returns the migrations the runner knows, in order.
func (r *Runner) Files() []Migration { return r.files }

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// Status reports applied and pending migrations without changing anything. It fails
// with a *ChecksumError when an applied file changed, or when the database holds a
// migration this binary does not know (it is older than the schema).
func (r *Runner) Status(ctx context.Context, conn *pgx.Conn) (Status, error) {
	applied, err := readApplied(ctx, conn)
	if err != nil {
		return Status{}, err
	}
	return r.compare(applied)
}

func (r *Runner) compare(applied []Applied) (Status, error) {
	st := Status{Applied: applied}
	byVersion := map[int]Applied{}
	for _, a := range applied {
		byVersion[a.Version] = a
	}
	known := map[int]bool{}
	for _, m := range r.files {
		known[m.Version] = true
		a, ok := byVersion[m.Version]
		if !ok {
			st.Pending = append(st.Pending, m)
			continue
		}
		if a.Checksum != m.Checksum {
			return st, &ChecksumError{Name: m.Name, Recorded: a.Checksum, OnDisk: m.Checksum}
		}
	}
	for _, a := range applied {
		if !known[a.Version] {
			return st, fmt.Errorf("migrations: the database has %s, which this binary does not know; run a newer secretsledger", a.Name)
		}
	}
	return st, nil
}

func readApplied(ctx context.Context, conn *pgx.Conn) ([]Applied, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, unavailable(err)
	}
	if !exists {
		return nil, nil
	}
	rows, _ := conn.Query(ctx, `SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version`)
	applied, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Applied, error) {
		var a Applied
		err := row.Scan(&a.Version, &a.Name, &a.Checksum, &a.AppliedAt)
		return a, err
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return applied, nil
}

// Apply applies every pending migration in order, each in its own transaction with its
// schema_migrations row, and returns what it applied. It holds an advisory lock for the
// whole run so that concurrent starters apply each file exactly once.
func (r *Runner) Apply(ctx context.Context, conn *pgx.Conn) ([]Migration, error) {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return nil, unavailable(err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx is cancelled.
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(unlockCtx, `SELECT pg_advisory_unlock($1)`, lockKey)
	}()
	if _, err := conn.Exec(ctx, createTable); err != nil {
		return nil, unavailable(err)
	}
	st, err := r.Status(ctx, conn)
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range st.Pending {
		if err := applyOne(ctx, conn, m); err != nil {
			return done, err
		}
		done = append(done, m)
	}
	return done, nil
}

func applyOne(ctx context.Context, conn *pgx.Conn, m Migration) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
			m.Version, m.Name, m.Checksum)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrations: apply %s: %w", m.Name, err)
	}
	return nil
}

// unavailable marks connection-level failures so callers can tell "database down" from
// a broken schema.
func unavailable(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("migrations: %w", err)
	}
	return ledgererr.Wrap(err, ledgererr.Unavailable, "database unreachable")
}
