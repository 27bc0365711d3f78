-- The first round trip of an append transaction in one statement: ledger_reserve_batch
-- locks the streams of all the transaction's appends and decides each append in turn,
-- exactly as ledger_lock_stream, once per stream, and then ledger_reserve (p_locked),
-- once per append, do (0018). One call instead of a statement per stream and per append:
-- each statement costs the server a parse, an executor start and a round of PL/pgSQL
-- set-up, and this is the costliest part of an append.
--
-- ledger_lock_stream and ledger_reserve stay: a process of the previous binary keeps
-- calling them until it is restarted. They lock the same keys in the same order and
-- bump the same counters, so the two kinds of process can append side by side.
-- WARNING: function names and their columns are part of the product contract.

-- ledger_reserve_batch takes the appends as parallel arrays: stream, expected version
-- (-2 for an unversioned stream, -1 for any version), event count, company, idempotency
-- key and request hash (NULL without a key); the streams each decision read are flattened
-- into p_cond_streams and p_cond_versions, those of append i ending at p_cond_ends[i].
-- It returns a row per append, in order, with ledger_reserve's columns.
--
-- 1. Locks: every stream an append writes with a counter exclusively, every stream only
--    read shared, each once, in stream id order (byte order: COLLATE "C", as the callers
--    of ledger_lock_stream sort them), so that two transactions never wait on each other
--    in a cycle; all in one statement. The versions are read by the next statement, with
--    a snapshot taken once the locks are held. A stream without a counter gets one from
--    the sealed log, unless it has unversioned events waiting (LE002).
-- 2. Decisions, append by append: a known idempotency key answers with its record
--    ('replay', also for a key an earlier append of the batch claimed); otherwise the
--    versions are checked ('stale' with the first mismatch in stream id order), including
--    what the earlier appends of the batch bumped, the key is claimed ('retry' when
--    another transaction's append with the key committed meanwhile) and the append is
--    'reserved'. An append that is not reserved changes nothing.
-- 3. Then, once: the transaction's xid, after all locks and before any position (the
--    sealer relies on it, see 0018); the positions of every reserved append from
--    ledger_position_seq, handed out in order, so they ascend within an append and from
--    one append to the next (the sealer checks each counted stream's versions in position
--    order); the counters, each written once; the claimed keys' records.
--
-- Its statements see arrays of any length; planned for the values at hand, they would be
-- planned again on every call, so the function uses generic plans (planned once per
-- session). A large batch looks its streams up in a jsonb object rather than scanning
-- the array of them, which would grow with the square of the batch.
CREATE FUNCTION ledger_reserve_batch(
    p_streams text[], p_expected bigint[], p_counts integer[], p_companies text[],
    p_idem_keys text[], p_idem_hashes bytea[],
    p_cond_ends integer[], p_cond_streams text[], p_cond_versions bigint[],
    p_idem_since timestamptz, p_recorded_at timestamptz)
RETURNS TABLE (outcome text, positions bigint[], stream_version bigint,
    found_stream text, found_version bigint, found_expected bigint,
    idem_hash bytea, idem_first bigint, idem_last bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    n integer := cardinality(p_streams);
    ids text[];         -- the locked streams, in stream id order
    idx jsonb;          -- stream → its index in ids, for a large batch
    vers bigint[];      -- their versions, with the bumps of the appends reserved so far
    read_vers bigint[]; -- their versions as read
    res text[] := '{}'; -- per append: outcome and the other columns
    afters bigint[] := '{}';
    f_stream text[] := '{}';
    f_version bigint[] := '{}';
    f_expected bigint[] := '{}';
    i_hash bytea[] := '{}';
    i_first bigint[] := '{}';
    i_last bigint[] := '{}';
    firsts integer[] := '{}'; -- per reserved append: its first position's index in pos
    claimer integer[] := '{}'; -- per append replaying a key claimed in the batch: the claimer
    pos bigint[] := '{}';
    total integer := 0;
    bumped boolean := false;
    lo integer := 1;
    i integer;
    j integer;
    at integer;
    s text;
    bad text;
    bad_v bigint;
    bad_want bigint;
    xid xid8;
BEGIN
    -- The lock filter is volatile, so it is not pushed into the sorted subquery: it runs
    -- on its rows, in their order.
    ids := ARRAY(SELECT t.id FROM (SELECT DISTINCT ON (1) u.id COLLATE "C", u.w FROM (
                SELECT x.id, true FROM unnest(p_streams, p_expected) AS x(id, e) WHERE x.e <> -2
                UNION ALL
                SELECT y.id, false FROM unnest(p_cond_streams) AS y(id)) AS u(id, w)
                ORDER BY 1, 2 DESC) AS t(id, w)
            WHERE CASE WHEN t.w THEN pg_advisory_xact_lock(hashtextextended(t.id, 5915314091))::text
                ELSE pg_advisory_xact_lock_shared(hashtextextended(t.id, 5915314091))::text END IS NOT NULL);
    vers := ARRAY(SELECT (SELECT l.version FROM ledger_streams l WHERE l.stream_id = t.id) FROM unnest(ids) AS t(id));
    IF array_position(vers, NULL) IS NOT NULL THEN
        SELECT t.id INTO s FROM unnest(ids) AS t(id)
            WHERE NOT EXISTS (SELECT 1 FROM ledger_streams l WHERE l.stream_id = t.id)
                AND EXISTS (SELECT 1 FROM ledger_appends a WHERE a.stream_id = t.id AND a.stream_version IS NULL)
            LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'stream % is unversioned; it takes no expected version', s
                USING ERRCODE = 'LE002';
        END IF;
        INSERT INTO ledger_streams (stream_id, version)
            SELECT t.id, coalesce((SELECT max(e.stream_version) FROM ledger_events e WHERE e.stream_id = t.id), 0)
            FROM unnest(ids) AS t(id)
            WHERE NOT EXISTS (SELECT 1 FROM ledger_streams l WHERE l.stream_id = t.id)
            ON CONFLICT (stream_id) DO NOTHING;
        vers := ARRAY(SELECT (SELECT l.version FROM ledger_streams l WHERE l.stream_id = t.id) FROM unnest(ids) AS t(id));
    END IF;
    read_vers := vers;
    IF cardinality(ids) > 64 THEN
        idx := (SELECT jsonb_object_agg(u.id, u.k) FROM unnest(ids) WITH ORDINALITY AS u(id, k));
    END IF;

    FOR i IN 1..n LOOP
        s := p_streams[i];
        IF p_idem_keys[i] IS NOT NULL THEN
            FOR j IN 1..i - 1 LOOP
                IF res[j] = 'reserved' AND p_idem_keys[j] = p_idem_keys[i] AND p_companies[j] = p_companies[i] THEN
                    res[i] := 'replay';
                    claimer[i] := j;
                    EXIT;
                END IF;
            END LOOP;
            IF res[i] IS NULL THEN
                SELECT r.request_hash, r.stream_id, r.first_position, r.last_position, r.stream_version
                    INTO idem_hash, found_stream, idem_first, idem_last, stream_version
                    FROM ledger_idempotency_keys r
                    WHERE r.company_id = p_companies[i] AND r.idempotency_key = p_idem_keys[i] AND r.recorded_at > p_idem_since;
                IF FOUND THEN
                    res[i] := 'replay';
                    f_stream[i] := found_stream;
                    afters[i] := stream_version;
                    i_hash[i] := idem_hash;
                    i_first[i] := idem_first;
                    i_last[i] := idem_last;
                END IF;
            END IF;
            IF res[i] IS NOT NULL THEN
                lo := p_cond_ends[i] + 1;
                CONTINUE;
            END IF;
        END IF;
        -- The first mismatch in stream id order: the written stream's, or a read one's.
        at := CASE WHEN p_expected[i] <> -2 THEN
            CASE WHEN idx IS NULL THEN array_position(ids, s) ELSE (idx ->> s)::integer END END;
        bad := CASE WHEN p_expected[i] NOT IN (-2, -1) AND vers[at] <> p_expected[i] THEN s END;
        bad_v := vers[at];
        bad_want := p_expected[i];
        FOR j IN lo..p_cond_ends[i] LOOP
            IF p_cond_versions[j] <> -1 AND p_cond_streams[j] <> s
                    AND vers[CASE WHEN idx IS NULL THEN array_position(ids, p_cond_streams[j])
                        ELSE (idx ->> p_cond_streams[j])::integer END] <> p_cond_versions[j]
                    AND (bad IS NULL OR p_cond_streams[j] COLLATE "C" < bad) THEN
                bad := p_cond_streams[j];
                bad_v := vers[CASE WHEN idx IS NULL THEN array_position(ids, bad) ELSE (idx ->> bad)::integer END];
                bad_want := p_cond_versions[j];
            END IF;
        END LOOP;
        lo := p_cond_ends[i] + 1;
        IF bad IS NOT NULL THEN
            res[i] := 'stale';
            f_stream[i] := bad;
            f_version[i] := bad_v;
            f_expected[i] := bad_want;
            CONTINUE;
        END IF;
        IF p_idem_keys[i] IS NOT NULL THEN
            INSERT INTO ledger_idempotency_keys AS r (company_id, idempotency_key, request_hash, stream_id,
                    first_position, last_position, stream_version, recorded_at)
                VALUES (p_companies[i], p_idem_keys[i], p_idem_hashes[i], s, 0, 0, 0, p_recorded_at)
                ON CONFLICT (company_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash,
                    stream_id = excluded.stream_id, first_position = 0, last_position = 0, stream_version = 0,
                    recorded_at = excluded.recorded_at
                WHERE r.recorded_at <= p_idem_since;
            IF NOT FOUND THEN
                res[i] := 'retry';
                CONTINUE;
            END IF;
        END IF;
        IF at IS NOT NULL THEN
            vers[at] := vers[at] + p_counts[i];
            bumped := true;
        END IF;
        res[i] := 'reserved';
        afters[i] := coalesce(vers[at], 0);
        firsts[i] := total + 1;
        total := total + p_counts[i];
    END LOOP;

    IF total > 0 THEN
        xid := pg_current_xact_id();
        FOR j IN 1..total LOOP
            pos[j] := nextval('ledger_position_seq');
        END LOOP;
        IF bumped THEN
            UPDATE ledger_streams l SET version = b.v FROM unnest(ids, vers, read_vers) AS b(id, v, o)
                WHERE b.v <> b.o AND l.stream_id = b.id;
        END IF;
        FOR i IN 1..n LOOP
            CONTINUE WHEN p_idem_keys[i] IS NULL;
            IF res[i] = 'reserved' THEN
                UPDATE ledger_idempotency_keys r SET first_position = pos[firsts[i]],
                        last_position = pos[firsts[i] + p_counts[i] - 1], stream_version = afters[i]
                    WHERE r.company_id = p_companies[i] AND r.idempotency_key = p_idem_keys[i];
            ELSIF claimer[i] IS NOT NULL THEN
                j := claimer[i];
                f_stream[i] := p_streams[j];
                afters[i] := afters[j];
                i_hash[i] := p_idem_hashes[j];
                i_first[i] := pos[firsts[j]];
                i_last[i] := pos[firsts[j] + p_counts[j] - 1];
            END IF;
        END LOOP;
    END IF;
    -- By subscript, not unnest: an array first assigned at index 3 starts there.
    RETURN QUERY SELECT res[g], pos[firsts[g] : firsts[g] + p_counts[g] - 1], afters[g], f_stream[g], f_version[g],
            f_expected[g], i_hash[g], i_first[g], i_last[g]
        FROM generate_series(1, n) AS g;
END;
$$;
