-- Leases elect the one process that runs each background role (the NATS relay, the
-- checkpoint signer, the backup schedule, the idempotency sweep). A lease is a row, taken
-- and renewed by one statement against the database's clock, so it works through a
-- transaction-pooling PgBouncer: no session state, no session advisory locks.
-- WARNING: table and column names, and the role names in it, are shared by every ledger
-- process on the database.

CREATE TABLE ledger_leases (
    role        text        PRIMARY KEY,
    holder      text        NOT NULL,  -- host:pid:random of the process that holds it
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
