-- The event log: the single source of truth (DESIGN.md §3).
-- WARNING: table and column names are part of the product contract.
CREATE TABLE ledger_events (
    position        bigint      PRIMARY KEY CHECK (position > 0),
    event_id        text        NOT NULL UNIQUE,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    company_id      text        NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL,
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    CONSTRAINT ledger_events_stream_version_key UNIQUE (stream_id, stream_version)
);

CREATE INDEX ledger_events_company_position_idx ON ledger_events (company_id, position);

-- Immutability: rows are never updated or deleted and the table is never truncated.
-- SQLSTATE LE001 lets clients tell this refusal from other failures.
CREATE FUNCTION ledger_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'LE001',
              HINT = 'the event log is immutable; record a new event instead';
END;
$$;

CREATE TRIGGER ledger_events_no_update_delete
    BEFORE UPDATE OR DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_events_refuse_change();

CREATE TRIGGER ledger_events_no_truncate
    BEFORE TRUNCATE ON ledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_refuse_change();

-- Idempotency keys (HTTP Idempotency-Key, AWS ClientRequestToken semantics): the first
-- result of a key is kept so that a retry of the same request gets it again.
CREATE TABLE ledger_idempotency_keys (
    company_id      text        NOT NULL,
    idempotency_key text        NOT NULL,
    request_hash    bytea       NOT NULL,
    stream_id       text        NOT NULL,
    first_position  bigint      NOT NULL,
    last_position   bigint      NOT NULL,
    stream_version  bigint      NOT NULL,
    recorded_at     timestamptz NOT NULL,
    PRIMARY KEY (company_id, idempotency_key)
);
