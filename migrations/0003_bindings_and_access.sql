-- Read models of bindings, consumer envs and agent keys (rebuilt by `secretsledger replay`).
-- WARNING: table and column names are part of the product contract.

CREATE TABLE company_secret_bindings (
    id               text        PRIMARY KEY,
    company_id       text        NOT NULL,
    secret_id        text        NOT NULL,
    target_type      text        NOT NULL,
    target_id        text        NOT NULL,
    config_path      text        NOT NULL,
    version_selector text        NOT NULL,  -- 'latest' or a version number
    required         boolean     NOT NULL,
    label            text        NOT NULL DEFAULT '',
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL,
    CONSTRAINT company_secret_bindings_consumer_path UNIQUE (company_id, target_type, target_id, config_path)
);
CREATE INDEX company_secret_bindings_secret ON company_secret_bindings (secret_id);

-- A consumer's env without values: plain entries carry the provider reference of their
-- encrypted value.
CREATE TABLE consumer_envs (
    company_id  text        NOT NULL,
    target_type text        NOT NULL,
    target_id   text        NOT NULL,
    env         jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL,
    position    bigint      NOT NULL,
    PRIMARY KEY (company_id, target_type, target_id)
);

CREATE TABLE agent_keys (
    id          text        PRIMARY KEY,
    company_id  text        NOT NULL,
    target_type text        NOT NULL,
    target_id   text        NOT NULL,
    label       text        NOT NULL DEFAULT '',
    token_hash  bytea       NOT NULL UNIQUE,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE INDEX secret_access_events_company ON secret_access_events (company_id, position DESC);
