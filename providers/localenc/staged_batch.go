package localenc

// stagedValue is one staged write (see Provider.Stage) as a member of the statement
// that stores the staged values of every append of a transaction (providers.StagedBatch):
// under load a transaction carries several appends, and one statement over their rows
// costs PostgreSQL less than one statement each.
type stagedValue struct {
	secretID, ref, company string
	version                int
	ciphertext             []byte
	// wrapped is the data key the value is encrypted under when the secret had none:
	// the statement creates it, and stores the value only if it did.
	wrapped []byte
}

type stagedValueKind struct{}

// BatchKey implements providers.StagedBatch.
func (stagedValue) BatchKey() any { return stagedValueKind{} }

// Merge implements providers.StagedBatch: the keys of new secrets are inserted unless
// the secret has one already (ON CONFLICT DO NOTHING, as Stage's own statement does),
// and a new secret's value is stored only under the key this statement inserted for
// it; each member's row counts the values it stored, which its append checks is 1.
// When no member creates a key (a rotation's write), the statement has no key insert:
// even inserting nothing, it costs the executor a table and its indexes to open.
func (stagedValue) Merge(members []any) (string, []any) {
	n := len(members)
	secrets, refs, companies := make([]string, n), make([]string, n), make([]string, n)
	versions := make([]int32, n)
	cts, wrapped := make([][]byte, n), make([][]byte, n)
	newKeys := false
	for i, m := range members {
		v := m.(stagedValue)
		secrets[i], refs[i], companies[i] = v.secretID, v.ref, v.company
		versions[i], cts[i], wrapped[i] = int32(v.version), v.ciphertext, v.wrapped
		newKeys = newKeys || v.wrapped != nil
	}
	if !newKeys {
		return `WITH m AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[])
					WITH ORDINALITY AS m(secret_id, ref, version, ciphertext, i)),
				v AS (INSERT INTO local_secret_values (secret_id, ref, version, ciphertext)
					SELECT secret_id, ref, version, ciphertext FROM m RETURNING secret_id, ref)
			SELECT m.i - 1, count(v.ref) FROM m LEFT JOIN v USING (secret_id, ref) GROUP BY m.i`,
			[]any{secrets, refs, versions, cts}
	}
	return `WITH m AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[], $5::text[], $6::bytea[])
				WITH ORDINALITY AS m(secret_id, ref, version, ciphertext, company_id, wrapped_key, i)),
			k AS (INSERT INTO local_secret_keys (secret_id, company_id, wrapped_key)
				SELECT secret_id, company_id, wrapped_key FROM m WHERE wrapped_key IS NOT NULL
				ON CONFLICT (secret_id) DO NOTHING RETURNING secret_id, wrapped_key),
			v AS (INSERT INTO local_secret_values (secret_id, ref, version, ciphertext)
				SELECT secret_id, ref, version, ciphertext FROM m
				WHERE wrapped_key IS NULL OR (secret_id, wrapped_key) IN (SELECT secret_id, wrapped_key FROM k)
				RETURNING secret_id, ref)
		SELECT m.i - 1, count(v.ref) FROM m LEFT JOIN v USING (secret_id, ref) GROUP BY m.i`,
		[]any{secrets, refs, versions, cts, companies, wrapped}
}
