-- A rotation marks the secret's current version previous before it inserts the new
-- one. Without this index that update reads every version of the secret, so rotations
-- slowed down as secrets gathered versions (the most costly statement of a rotation
-- at a few thousand versions per secret).
CREATE INDEX company_secret_versions_current_idx ON company_secret_versions (secret_id) WHERE status = 'current';
