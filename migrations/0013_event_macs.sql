-- Event MACs: the writer authenticates every event it appends with an HMAC of the event's
-- chain hash under a key derived from the instance's integrity key, which lives outside
-- the database. A row inserted by someone who holds only database credentials carries no
-- valid MAC, so verify reports it and the checkpoint signer refuses to sign past it.
-- Events appended before this migration have no MAC: legacy_through records the last of
-- them, and only those may lack one. The runtime role may only read ledger_integrity.
-- WARNING: table and column names are part of the product contract.
ALTER TABLE ledger_events ADD COLUMN mac bytea;

CREATE TABLE ledger_integrity (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    legacy_through bigint  NOT NULL
);

INSERT INTO ledger_integrity (legacy_through) SELECT coalesce(max(position), 0) FROM ledger_events;
