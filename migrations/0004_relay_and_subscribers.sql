-- The NATS relay's cursor (the last log position published) and the event subscribers
-- read model. WARNING: table and column names are part of the product contract.

CREATE TABLE relay_cursors (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE event_subscribers (
    id            text        PRIMARY KEY,
    company_id    text        NOT NULL,
    label         text        NOT NULL DEFAULT '',
    password_hash text        NOT NULL,  -- bcrypt; the password is shown once and never stored
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
