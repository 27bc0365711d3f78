-- Keyed credential hashes: board tokens and console sessions are looked up by a hash
-- keyed with the instance's integrity key, which lives outside the database, so that a
-- row written by someone who holds only database credentials never authenticates.
--
-- board_tokens.keyed says a row's token_hash is keyed. Rows stored before (a bare
-- SHA-256) are keyed once by the ledger at its next start, as the owner, from the stored
-- hash (no token is needed); lookups match keyed rows only. Only the owner may write
-- board_tokens from now on: the grants below go at once (the ledger's grants on every
-- start keep them gone), so no row can be added between this migration and that
-- upgrade for it to key.
--
-- Console sessions stored before are removed: their hashes are not keyed, and signing
-- in again is cheap.
-- WARNING: table and column names are part of the product contract.
ALTER TABLE board_tokens ADD COLUMN keyed boolean NOT NULL DEFAULT false;

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'board_tokens'
          AND privilege_type IN ('INSERT', 'UPDATE') AND grantee <> current_user
    LOOP
        IF r.grantee = 'PUBLIC' THEN
            REVOKE INSERT, UPDATE ON board_tokens FROM PUBLIC;
        ELSE
            EXECUTE format('REVOKE INSERT, UPDATE ON board_tokens FROM %I', r.grantee);
        END IF;
    END LOOP;
END $$;

DELETE FROM console_sessions;
