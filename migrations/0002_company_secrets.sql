-- Read models of the secrets lifecycle (rebuilt from ledger_events by `secretsledger replay`),
-- the local_encrypted provider's material, and board tokens.
-- WARNING: table and column names are part of the product contract.

-- Projection checkpoints: the last log position each projection has applied.
CREATE TABLE projection_checkpoints (
    projection text   PRIMARY KEY,
    position   bigint NOT NULL
);

CREATE TABLE company_secrets (
    id                 text        PRIMARY KEY,
    company_id         text        NOT NULL,
    key                text        NOT NULL,
    name               text        NOT NULL,
    description        text        NOT NULL DEFAULT '',
    provider           text        NOT NULL,
    status             text        NOT NULL,  -- active | disabled | archived | deleted | purged
    managed_mode       text        NOT NULL,  -- paperclip_managed | external_reference
    external_ref       text,
    provider_config_id text,
    latest_version     integer     NOT NULL,
    created_by         text        NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    deleted_at         timestamptz,
    purged_at          timestamptz,
    last_resolved_at   timestamptz,
    position           bigint      NOT NULL   -- log position of the last event applied
);
-- Name and key are unique per company among secrets that are not deleted. The inline
-- projection runs in the append transaction, so these indexes also settle races.
CREATE UNIQUE INDEX company_secrets_live_name ON company_secrets (company_id, name) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX company_secrets_live_key ON company_secrets (company_id, key) WHERE deleted_at IS NULL;
CREATE INDEX company_secrets_company ON company_secrets (company_id, name);

CREATE TABLE company_secret_versions (
    secret_id            text        NOT NULL REFERENCES company_secrets (id),
    version              integer     NOT NULL,
    company_id           text        NOT NULL,
    status               text        NOT NULL,  -- current | previous | disabled | destroyed
    provider_version_ref text,
    external_ref         text,
    fingerprint          text,
    created_by           text        NOT NULL,
    created_at           timestamptz NOT NULL,
    PRIMARY KEY (secret_id, version)
);

-- Filled by runtime resolution (a later issue); deleting a secret never deletes these.
CREATE TABLE secret_access_events (
    event_id     text        PRIMARY KEY,
    position     bigint      NOT NULL,
    company_id   text        NOT NULL,
    secret_id    text        NOT NULL,
    version      integer,
    actor_type   text        NOT NULL,
    actor_id     text        NOT NULL,
    consumer     text,
    config_path  text,
    run_id       text,
    issue_id     text,
    outcome      text        NOT NULL,
    error_code   text,
    recorded_at  timestamptz NOT NULL
);
CREATE INDEX secret_access_events_secret ON secret_access_events (secret_id, position DESC);

-- local_encrypted material: one wrapped data key per secret (NULL once purged:
-- crypto-shredded) and one ciphertext per version. Not a read model: it cannot be
-- rebuilt from the log, which never holds material.
CREATE TABLE local_secret_keys (
    secret_id    text        PRIMARY KEY,
    company_id   text        NOT NULL,
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
);
-- ref is the provider version ref recorded in the event: one per write attempt, so that
-- a write whose append lost a race never overwrites the version that won.
CREATE TABLE local_secret_values (
    secret_id  text        NOT NULL REFERENCES local_secret_keys (secret_id),
    ref        text        NOT NULL,
    version    integer     NOT NULL,
    ciphertext bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (secret_id, ref)
);

-- Board (operator) tokens, stored as SHA-256 of the token. companies NULL = every company.
CREATE TABLE board_tokens (
    id         text        PRIMARY KEY,
    token_hash bytea       NOT NULL UNIQUE,
    companies  text[],
    label      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
