package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
)

// sessionsPerToken bounds the sessions one board token holds: signing in again beyond it
// ends that token's oldest session, so a script cannot grow the table without end.
const sessionsPerToken = 20

// maxSessionIDBytes bounds the cookie a request may carry: a token id, an expiry and 43
// characters of randomness fit well within it.
const maxSessionIDBytes = 128

// errNoSession is a missing, expired or unknown session, or one whose token was revoked.
var errNoSession = errors.New("console: no session")

// sessions keeps console sessions in console_sessions.
type sessions struct {
	db *pgxpool.Pool
	// key keys the stored hashes, so that a row written by someone who can write to the
	// database (the runtime role inserts sessions) matches no cookie they could make.
	key integrity.Key
	ttl time.Duration
}

func (s sessions) hashOf(id string) []byte { return s.key.CredentialHash(id) }

// boundOf is what a session id names besides its randomness: ids are
// "<token id>.<expiry, Unix seconds>.<random>", so the keyed hash covers the token and
// the expiry too, and a row whose token_id or expires_at was changed (the runtime role
// may update sessions) no longer matches its cookie rather than standing for another
// token or for longer. ok is false for an id of another form.
func boundOf(id string) (tokenID string, expires time.Time, ok bool) {
	parts := strings.SplitN(id, ".", 3)
	if len(parts) != 3 {
		return "", time.Time{}, false
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return parts[0], time.Unix(unix, 0), true
}

// start opens a session for the board token tokenID and returns its id (the cookie's
// value). Expired sessions are swept on the way, and the token's oldest beyond
// sessionsPerToken are ended.
func (s sessions) start(ctx context.Context, tokenID string) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	expires := time.Now().Add(s.ttl).Truncate(time.Second)
	id := tokenID + "." + strconv.FormatInt(expires.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(b)
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= now()`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO console_sessions (id_hash, token_id, expires_at) VALUES ($1, $2, $3)`,
			s.hashOf(id), tokenID, expires); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE token_id = $1 AND id_hash IN (
			SELECT id_hash FROM console_sessions WHERE token_id = $1 ORDER BY created_at DESC OFFSET $2)`,
			tokenID, sessionsPerToken)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("console: start a session: %w", err)
	}
	return id, nil
}

// actor returns the board actor of a live session: unexpired, and its token unrevoked.
func (s sessions) actor(ctx context.Context, id string) (actor.Actor, error) {
	tokenID, expires, ok := boundOf(id)
	if !ok {
		return actor.Actor{}, errNoSession
	}
	a := actor.Actor{Type: actor.Board}
	err := s.db.QueryRow(ctx, `SELECT b.id, b.companies FROM console_sessions s
		JOIN board_tokens b ON b.id = s.token_id
		WHERE s.id_hash = $1 AND s.token_id = $2 AND s.expires_at = $3 AND s.expires_at > now() AND b.revoked_at IS NULL`,
		s.hashOf(id), tokenID, expires).Scan(&a.ID, &a.Companies)
	if errors.Is(err, pgx.ErrNoRows) {
		return actor.Actor{}, errNoSession
	}
	if err != nil {
		return actor.Actor{}, fmt.Errorf("console: read a session: %w", err)
	}
	return a, nil
}

// end ends a session (signing out).
func (s sessions) end(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, s.hashOf(id)); err != nil {
		return fmt.Errorf("console: end a session: %w", err)
	}
	return nil
}

// csrfOf is the CSRF token of a session: derived from its id, which only the browser
// holding the HttpOnly cookie knows, so nothing more is stored and another site cannot
// learn it.
func csrfOf(sessionID string) string {
	sum := sha256.Sum256([]byte("secretsledger console csrf\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// csrfMatches compares in constant time.
func csrfMatches(sessionID, got string) bool {
	return subtle.ConstantTimeCompare([]byte(csrfOf(sessionID)), []byte(got)) == 1
}
