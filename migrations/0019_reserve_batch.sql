-- The first round trip of an append transaction in one statement: ledger_reserve_batch
-- locks the streams of all the transaction's appends and decides each append in turn,
-- as ledger_lock_stream, once per stream, and then ledger_reserve (p_locked), once per
-- append, do (0018). One call instead of a statement per stream and per append: every
-- statement costs the server an executor start and a round of PL/pgSQL set-up, and this
-- was the costliest part of an append.
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
--    ('replay'; a key an earlier append of the batch claimed is known by then); otherwise
--    the versions are checked ('stale' with the first mismatch in stream id order),
--    including what the earlier appends of the batch bumped, the key is claimed ('retry'
--    when another transaction's append with the key committed meanwhile), the positions
--    are taken and the append is 'reserved'. An append that is not reserved changes
--    nothing. The transaction takes its xid before the first position, after all its
--    locks (the sealer relies on it, see 0018); the positions ascend within an append and
--    from one append to the next (the sealer checks each counted stream's versions in
--    position order).
-- 3. Last, the bumped counters, each written once.
--
-- Its statements see arrays of any length; planned for the values at hand, they would be
-- planned again on every call, so the function uses generic plans (planned once per
-- session). A large batch looks its streams up in a jsonb object rather than scanning
-- the array of them, which would grow with the square of the batch. The result columns
-- double as the decision's variables: a row leaves only its own values in them.
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
    ids text[];         -- the locked streams, in stream id order
    idx jsonb;          -- stream → its index in ids, for a large batch
    vers bigint[];      -- their versions, with the bumps of the appends reserved so far
    read_vers bigint[]; -- their versions as read
    lo integer := 1;    -- append i's first condition
    at integer;
    s text;
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

    FOR i IN 1..cardinality(p_streams) LOOP
        s := p_streams[i];
        IF p_idem_keys[i] IS NOT NULL THEN
            SELECT r.request_hash, r.stream_id, r.first_position, r.last_position, r.stream_version
                INTO idem_hash, found_stream, idem_first, idem_last, stream_version
                FROM ledger_idempotency_keys r
                WHERE r.company_id = p_companies[i] AND r.idempotency_key = p_idem_keys[i] AND r.recorded_at > p_idem_since;
            IF FOUND THEN
                outcome := 'replay';
                positions := NULL;
                lo := p_cond_ends[i] + 1;
                RETURN NEXT;
                idem_hash := NULL; found_stream := NULL; idem_first := NULL; idem_last := NULL; stream_version := NULL;
                CONTINUE;
            END IF;
        END IF;
        -- The first mismatch in stream id order: the written stream's, or a read one's.
        at := CASE WHEN p_expected[i] <> -2 THEN
            CASE WHEN idx IS NULL THEN array_position(ids, s) ELSE (idx ->> s)::integer END END;
        IF p_expected[i] NOT IN (-2, -1) AND vers[at] <> p_expected[i] THEN
            found_stream := s;
            found_version := vers[at];
            found_expected := p_expected[i];
        END IF;
        FOR j IN lo..p_cond_ends[i] LOOP
            IF p_cond_versions[j] <> -1 AND p_cond_streams[j] <> s
                    AND vers[CASE WHEN idx IS NULL THEN array_position(ids, p_cond_streams[j])
                        ELSE (idx ->> p_cond_streams[j])::integer END] <> p_cond_versions[j]
                    AND (found_stream IS NULL OR p_cond_streams[j] COLLATE "C" < found_stream) THEN
                found_stream := p_cond_streams[j];
                found_version := vers[CASE WHEN idx IS NULL THEN array_position(ids, found_stream)
                    ELSE (idx ->> found_stream)::integer END];
                found_expected := p_cond_versions[j];
            END IF;
        END LOOP;
        lo := p_cond_ends[i] + 1;
        IF found_stream IS NOT NULL THEN
            outcome := 'stale';
            positions := NULL;
            stream_version := NULL;
            RETURN NEXT;
            found_stream := NULL; found_version := NULL; found_expected := NULL;
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
                outcome := 'retry';
                positions := NULL;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        IF xid IS NULL THEN
            xid := pg_current_xact_id();
        END IF;
        positions := NULL;
        FOR j IN 1..p_counts[i] LOOP
            positions[j] := nextval('ledger_position_seq');
        END LOOP;
        IF at IS NOT NULL THEN
            vers[at] := vers[at] + p_counts[i];
        END IF;
        stream_version := coalesce(vers[at], 0);
        IF p_idem_keys[i] IS NOT NULL THEN
            UPDATE ledger_idempotency_keys r SET first_position = positions[1], last_position = positions[p_counts[i]],
                    stream_version = coalesce(vers[at], 0)
                WHERE r.company_id = p_companies[i] AND r.idempotency_key = p_idem_keys[i];
        END IF;
        outcome := 'reserved';
        RETURN NEXT;
    END LOOP;
    IF vers <> read_vers THEN
        UPDATE ledger_streams l SET version = b.v FROM unnest(ids, vers, read_vers) AS b(id, v, o)
            WHERE b.v <> b.o AND l.stream_id = b.id;
    END IF;
END;
$$;
