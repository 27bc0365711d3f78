-- Browser console sessions. A session stands for the board token it was opened with and
-- ends with it: every console request joins board_tokens and needs the token unrevoked.
-- Only the SHA-256 of the session id (256 random bits, kept in an HttpOnly cookie) is
-- stored; the board token itself is never kept, here or in the browser.
-- WARNING: table and column names are shared by every ledger process on the database.

CREATE TABLE console_sessions (
    id_hash    bytea       PRIMARY KEY,
    token_id   text        NOT NULL REFERENCES board_tokens (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX console_sessions_token ON console_sessions (token_id, created_at);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
