-- The answers of commands sent with an Idempotency-Key, so that a retry gets the first
-- answer again (status, headers, body) instead of deciding anew. Kept per caller (the
-- board token or agent key that asked, "board:<id>" or "agent:<id>"): a key is one
-- caller's, and an answer is given again to that caller only. The answer is sealed
-- (AES-256-GCM) under a key derived from the instance's integrity key, which lives
-- outside the database: some answers hold a credential shown once (an agent key's
-- token, an event subscriber's NATS credentials), and the database alone must not be
-- enough to read them. Rows older than LEDGER_IDEMPOTENCY_TTL are ignored and swept
-- with ledger_idempotency_keys.
-- WARNING: table and column names are part of the product contract.
CREATE TABLE ledger_idempotent_answers (
    caller          text        NOT NULL,
    idempotency_key text        NOT NULL,
    request_hash    bytea       NOT NULL,
    sealed_answer   bytea       NOT NULL,
    recorded_at     timestamptz NOT NULL,
    PRIMARY KEY (caller, idempotency_key)
);
