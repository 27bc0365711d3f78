-- The log without a global append lock. An append commits in its own transaction, in
-- parallel with every other, from any number of processes: it locks only the streams it
-- writes (exclusively) and the streams its decision read (shared), in one fixed order,
-- takes its positions from ledger_position_seq and writes its events to ledger_appends,
-- authenticated by the writer's MAC. One elected sealer then moves them into
-- ledger_events in position order, chaining and MACing them there. It seals the
-- positions up to the sequence's last value N only once every transaction that was
-- running when it read N has ended: an append holds an xid before it takes a position,
-- so the sealer reads N and then takes an xid X of its own, and waits for
-- pg_snapshot_xmin() to pass X. ledger_events keeps its columns and its meaning: the
-- sealed, hash-chained log that the relay, verify, checkpoints and exports read.
-- WARNING: table, column and function names are part of the product contract.

-- Positions come from a sequence now (CACHE 1, the default: the sealer reads last_value,
-- which a per-session cache would make lie). An append that fails after taking its positions
-- leaves them unused, so positions increase but need not be dense; the chain links each
-- sealed event to the one sealed before it whatever the distance.
CREATE SEQUENCE ledger_position_seq AS bigint MINVALUE 1;
SELECT setval('ledger_position_seq', coalesce(max(position), 1), max(position) IS NOT NULL) FROM ledger_events;

-- The version counter of each stream, created on the stream's first append (or first
-- condition) from the sealed log. Unversioned streams (access records, refusals) have
-- no counter: a counter there would serialize every resolution of one agent; the sealer
-- numbers their events in position order.
CREATE TABLE ledger_streams (
    stream_id text   PRIMARY KEY,
    version   bigint NOT NULL CHECK (version >= 0)
);

-- Acknowledged events waiting for the sealer. payload and metadata are kept as the
-- writer sent them, the text its MAC covers; the checks make sure the sealer can store
-- them as jsonb. stream_version is NULL for an unversioned append.
CREATE TABLE ledger_appends (
    position       bigint      PRIMARY KEY CHECK (position > 0),
    event_id       text        NOT NULL,
    stream_id      text        NOT NULL,
    stream_version bigint      CHECK (stream_version > 0),
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    company_id     text        NOT NULL,
    payload        text        NOT NULL CHECK (payload::jsonb IS NOT NULL),
    metadata       text        NOT NULL CHECK (metadata::jsonb IS NOT NULL),
    recorded_at    timestamptz NOT NULL,
    mac            bytea       NOT NULL,
    CONSTRAINT ledger_appends_stream_version_key UNIQUE (stream_id, stream_version)
);
-- A queue: every row is deleted within milliseconds. Vacuum it after a fixed number of
-- deletions rather than a fraction of a table that is nearly always empty.
ALTER TABLE ledger_appends SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0);

-- Everything committed, sealed or not: what decisions and read-your-writes queries read.
-- A pending event has no chain hash yet; sent_payload and sent_metadata are the text its
-- MAC covers.
CREATE VIEW ledger_log AS
    SELECT position, event_id, stream_id, stream_version, event_type, schema_version, company_id,
           payload, metadata, recorded_at, prev_hash, hash, mac,
           NULL::text AS sent_payload, NULL::text AS sent_metadata
    FROM ledger_events
    UNION ALL
    SELECT position, event_id, stream_id, stream_version, event_type, schema_version, company_id,
           payload::jsonb, metadata::jsonb, recorded_at, NULL::bytea, NULL::bytea, mac,
           payload, metadata
    FROM ledger_appends;

-- ledger_lock_stream locks one stream for the rest of the transaction, exclusively when
-- the append writes the stream and shared when its decision only read it, and returns
-- the stream's version, creating its counter row from the sealed log on first use. The
-- lock is a transaction-scoped advisory lock on a 64-bit hash of the stream id, not a
-- row lock: a shared row lock that many appends hold at once (every rotation of a
-- company reads its policy stream) costs a multixact and a tuple write per locker, an
-- advisory lock only a lock-table entry. Appends lock their streams in stream id order,
-- so they never wait on each other in a cycle.
CREATE FUNCTION ledger_lock_stream(p_stream text, p_write boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
    k bigint := hashtextextended(p_stream, 5915314091); -- the seed keeps these keys apart from others'
BEGIN
    IF p_write THEN
        PERFORM pg_advisory_xact_lock(k);
    ELSE
        PERFORM pg_advisory_xact_lock_shared(k);
    END IF;
    SELECT version INTO v FROM ledger_streams WHERE stream_id = p_stream;
    IF FOUND THEN
        RETURN v;
    END IF;
    IF EXISTS (SELECT 1 FROM ledger_appends WHERE stream_id = p_stream AND stream_version IS NULL) THEN
        RAISE EXCEPTION 'stream % is unversioned; it takes no expected version', p_stream
            USING ERRCODE = 'LE002';
    END IF;
    INSERT INTO ledger_streams (stream_id, version)
        SELECT p_stream, coalesce(max(stream_version), 0) FROM ledger_events WHERE stream_id = p_stream
        ON CONFLICT (stream_id) DO NOTHING;
    SELECT version INTO STRICT v FROM ledger_streams WHERE stream_id = p_stream;
    RETURN v;
END;
$$;

-- ledger_reserve decides one append in the first round trip of its transaction: it
-- answers a known idempotency key with its record ('replay'), checks the versions of the
-- written stream and of the streams the decision read under their locks ('stale' with
-- the first mismatch), claims the idempotency key ('retry' when another append with the
-- same key committed meanwhile), and only then takes the positions, bumps the written
-- stream's counter, records the key's result and returns 'reserved'. An append that is
-- not reserved changes nothing, so several appends share one transaction (a process's
-- group commit): with p_locked the caller took every stream's lock first, for all of
-- them at once and in stream id order, and the versions read here include what the
-- earlier appends of the transaction bumped. The caller writes the events to
-- ledger_appends in the same transaction.
CREATE FUNCTION ledger_reserve(
    p_stream text, p_expected bigint, p_count integer, p_cond_streams text[], p_cond_versions bigint[],
    p_company text, p_idem_key text, p_idem_hash bytea, p_idem_since timestamptz, p_recorded_at timestamptz,
    p_locked boolean,
    OUT outcome text, OUT positions bigint[], OUT stream_version bigint,
    OUT found_stream text, OUT found_version bigint, OUT found_expected bigint,
    OUT idem_hash bytea, OUT idem_first bigint, OUT idem_last bigint)
LANGUAGE plpgsql AS $$
DECLARE
    counted boolean;
    s text;
    want bigint;
    v bigint;
    after bigint;
BEGIN
    IF p_idem_key IS NOT NULL THEN
        SELECT k.request_hash, k.stream_id, k.first_position, k.last_position, k.stream_version
            INTO idem_hash, found_stream, idem_first, idem_last, stream_version
            FROM ledger_idempotency_keys k
            WHERE k.company_id = p_company AND k.idempotency_key = p_idem_key AND k.recorded_at > p_idem_since;
        IF FOUND THEN
            outcome := 'replay';
            RETURN;
        END IF;
    END IF;
    counted := p_expected <> -2; -- eventstore.Unversioned: no counter, the sealer numbers it
    after := 0;
    FOR s, want IN
        SELECT id, ver FROM unnest(p_cond_streams, p_cond_versions) AS c(id, ver) WHERE id <> p_stream
        UNION ALL
        SELECT p_stream, p_expected WHERE counted
        ORDER BY 1
    LOOP
        IF p_locked THEN
            SELECT l.version INTO v FROM ledger_streams l WHERE l.stream_id = s;
        ELSE
            v := ledger_lock_stream(s, s = p_stream);
        END IF;
        IF s = p_stream THEN
            after := v;
        END IF;
        IF want <> -1 AND v <> want THEN
            outcome := 'stale';
            found_stream := s;
            found_version := v;
            found_expected := want;
            RETURN;
        END IF;
    END LOOP;
    IF p_idem_key IS NOT NULL THEN
        INSERT INTO ledger_idempotency_keys AS k (company_id, idempotency_key, request_hash, stream_id,
                first_position, last_position, stream_version, recorded_at)
            VALUES (p_company, p_idem_key, p_idem_hash, p_stream, 0, 0, 0, p_recorded_at)
            ON CONFLICT (company_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash,
                stream_id = excluded.stream_id, first_position = 0, last_position = 0, stream_version = 0,
                recorded_at = excluded.recorded_at
            WHERE k.recorded_at <= p_idem_since;
        IF NOT FOUND THEN
            outcome := 'retry';
            RETURN;
        END IF;
    END IF;
    -- The transaction holds an xid before it takes a position: the sealer's wait for the
    -- transactions that could still commit a position relies on it (see above). It takes
    -- it only now, after the stream locks: a transaction with an xid holds the sealer
    -- back, and one waiting for a lock has nothing to seal yet.
    PERFORM pg_current_xact_id();
    positions := ARRAY(SELECT nextval('ledger_position_seq') FROM generate_series(1, p_count) ORDER BY 1);
    IF counted THEN
        UPDATE ledger_streams l SET version = l.version + p_count WHERE l.stream_id = p_stream;
        after := after + p_count;
    END IF;
    IF p_idem_key IS NOT NULL THEN
        UPDATE ledger_idempotency_keys k SET first_position = positions[1], last_position = positions[p_count],
                stream_version = after
            WHERE k.company_id = p_company AND k.idempotency_key = p_idem_key;
    END IF;
    stream_version := after;
    outcome := 'reserved';
END;
$$;
