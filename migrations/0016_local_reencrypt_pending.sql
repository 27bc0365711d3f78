-- Re-encryption after a suspected master key leak (`secrets rekey --reencrypt`): the
-- rekey marks every live data key it rewraps, and the re-encryption then gives each
-- marked secret a fresh data key and re-encrypts its versions, one secret per
-- transaction, clearing the mark in the same transaction. A run that stops midway
-- leaves every secret readable (under its old or its new data key) and the marks say
-- what the next run still has to do. Only the owner (operator commands) sets or clears
-- it; the server's inserts take the default.
-- WARNING: table and column names are part of the product contract.
ALTER TABLE local_secret_keys ADD COLUMN reencrypt_pending boolean NOT NULL DEFAULT false;
