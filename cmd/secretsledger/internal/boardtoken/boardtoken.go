package boardtoken

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// prefix marks ledger board tokens, so that secret scanners can recognise a leaked one.
// WARNING: persisted in issued tokens.
const prefix = "slb_"

// DB is what a Store runs its statements on: the runtime pool for Authenticate and
// List, the owner's pool or connection for everything that writes.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store keeps board tokens in board_tokens.
type Store struct {
	DB DB
	// Key keys the stored hashes.
	Key integrity.Key
	// Cache, when set, answers Authenticate for tokens it found live, while Watch keeps
	// it fresh (serve). Nil: every lookup is a query (the operator commands).
	Cache *Cache
}

// Create issues a token; companies nil means every company. It returns the token's id
// and the token itself, which is never stored. It needs the owner's DB.
func (s Store) Create(ctx context.Context, companies []string, label string) (id, token string, err error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	id = "tok_" + ulid.Make().String()
	if _, err := s.DB.Exec(ctx, `INSERT INTO board_tokens (id, token_hash, keyed, companies, label) VALUES ($1, $2, true, $3, $4)`,
		id, s.Key.CredentialHash(token), companies, label); err != nil {
		return "", "", fmt.Errorf("boardtoken: create: %w", err)
	}
	return id, token, nil
}

var errUnauthorized = ledgererr.New(ledgererr.Unauthorized, "a valid board token is required (Authorization: Bearer <token>)")

// Authenticate returns the actor of a live token: from s.Cache when it is fresh and
// knows the token, else from the database (remembering a live token in s.Cache).
func (s Store) Authenticate(ctx context.Context, token string) (actor.Actor, error) {
	if !strings.HasPrefix(token, prefix) {
		return actor.Actor{}, errUnauthorized
	}
	hash := s.Key.CredentialHash(token)
	var generation uint64
	if s.Cache != nil {
		a, g, ok := s.Cache.get(hash)
		if ok {
			a.Companies = slices.Clone(a.Companies) // the cache's own stays as read
			return a, nil
		}
		generation = g
	}
	a := actor.Actor{Type: actor.Board}
	// Only keyed rows: an unkeyed one was stored before the upgrade (and is keyed at the
	// next start) or written by someone without the key.
	err := s.DB.QueryRow(ctx, `SELECT id, companies FROM board_tokens WHERE token_hash = $1 AND keyed AND revoked_at IS NULL`,
		hash).Scan(&a.ID, &a.Companies)
	if errors.Is(err, pgx.ErrNoRows) {
		return actor.Actor{}, errUnauthorized
	}
	if err != nil {
		return actor.Actor{}, ledgererr.Wrap(err, ledgererr.Unavailable, "cannot check the token now")
	}
	if s.Cache != nil {
		s.Cache.put(hash, actor.Actor{Type: a.Type, ID: a.ID, Companies: slices.Clone(a.Companies)}, generation)
	}
	return a, nil
}

// KeyStoredHashes keys the hashes of tokens stored before hashes were keyed (a bare
// SHA-256 each), from the stored hash, so that they keep working; it returns how many it
// keyed. It needs the owner's DB and is safe to run on every start from several
// processes at once: one transaction locks the rows it keys, and a concurrent run finds
// them keyed.
func (s Store) KeyStoredHashes(ctx context.Context) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id, token_hash FROM board_tokens WHERE NOT keyed ORDER BY id FOR UPDATE`)
		type stored struct {
			id   string
			hash []byte
		}
		unkeyed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stored, error) {
			var t stored
			err := r.Scan(&t.id, &t.hash)
			return t, err
		})
		if err != nil {
			return err
		}
		for _, t := range unkeyed {
			if _, err := tx.Exec(ctx, `UPDATE board_tokens SET token_hash = $2, keyed = true WHERE id = $1`,
				t.id, s.Key.KeyStoredHash(t.hash)); err != nil {
				return err
			}
		}
		n = len(unkeyed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boardtoken: key the stored hashes: %w", err)
	}
	return n, nil
}

// Revoke revokes a token: at once in this process (s.Cache is dropped); in every other
// serve process once its Watch sees the table change, within about PollInterval and
// never later than MaxStaleness.
func (s Store) Revoke(ctx context.Context, id string) error {
	tag, err := s.DB.Exec(ctx, `UPDATE board_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	if s.Cache != nil {
		s.Cache.drop() // also after an error: the statement may have committed
	}
	if err != nil {
		return fmt.Errorf("boardtoken: revoke: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ledgererr.New(ledgererr.NotFound, "no token %s", id)
	}
	return nil
}

// EnsureInstanceToken creates an instance-wide token on first start and writes it to
// path (0600), logging the path, never the token. It does nothing when any token
// exists already. It needs the owner's DB.
func (s Store) EnsureInstanceToken(ctx context.Context, path string, log *slog.Logger) error {
	var n int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM board_tokens`).Scan(&n); err != nil {
		return fmt.Errorf("boardtoken: count: %w", err)
	}
	if n > 0 {
		return nil
	}
	id, token, err := s.Create(ctx, nil, "instance token created on first start")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		_ = s.Revoke(ctx, id)
		return fmt.Errorf("boardtoken: write %s: %w", path, err)
	}
	log.Info("created the instance board token", "id", id, "file", path)
	return nil
}

// Token is what may be shown of a board token: never its hash.
type Token struct {
	ID        string     `json:"id"`
	Label     string     `json:"label"`
	Companies []string   `json:"companies"` // nil: every company
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"`
}

// List returns every token, oldest first, revoked ones included.
func (s Store) List(ctx context.Context) ([]Token, error) {
	rows, _ := s.DB.Query(ctx, `SELECT id, label, companies, created_at, revoked_at FROM board_tokens ORDER BY created_at, id`)
	tokens, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) {
		var t Token
		err := r.Scan(&t.ID, &t.Label, &t.Companies, &t.CreatedAt, &t.RevokedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("boardtoken: list: %w", err)
	}
	return tokens, nil
}
