package localenc

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
)

// reencryptChunk bounds how many ciphertexts of one secret a re-encryption holds in
// memory at once.
const reencryptChunk = 100

// Rekey rewraps every live data key under next and records next's key check, in one
// transaction, and returns how many keys it rewrapped. The provider's own key must
// match the database's key check first. Ciphertexts and the event log are not touched.
// With reencrypt, every rewrapped key is also marked for Reencrypt: rewrapping alone
// does not help once the old master key has leaked, since whoever holds it and a dump
// can open the data keys, which stay the same.
func (p *Provider) Rekey(ctx context.Context, next *Sealer, reencrypt bool) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := VerifyKey(ctx, tx, p.sealer); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT secret_id, company_id, wrapped_key FROM local_secret_keys
			WHERE wrapped_key IS NOT NULL ORDER BY secret_id FOR UPDATE`)
		type key struct {
			secret, company string
			wrapped         []byte
		}
		keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (key, error) {
			var k key
			err := r.Scan(&k.secret, &k.company, &k.wrapped)
			return k, err
		})
		if err != nil {
			return unavailable(err)
		}
		p.keys.clear() // this provider's key is the old one from now on
		for _, k := range keys {
			rewrapped, err := p.sealer.Rewrap(k.wrapped, k.company, k.secret, next)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE local_secret_keys SET wrapped_key = $2, reencrypt_pending = reencrypt_pending OR $3
				WHERE secret_id = $1`, k.secret, rewrapped, reencrypt); err != nil {
				return unavailable(err)
			}
			n++
		}
		return recordKeyCheck(ctx, tx, next)
	})
	return n, err
}

// PendingReencryption counts the live secrets marked for re-encryption and not done yet.
func (p *Provider) PendingReencryption(ctx context.Context) (int, error) {
	return PendingReencryption(ctx, p.pool)
}

// PendingReencryption counts, in db, the live secrets marked for re-encryption and not
// done yet (for reports that have no provider).
func PendingReencryption(ctx context.Context, db Querier) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM local_secret_keys WHERE reencrypt_pending AND wrapped_key IS NOT NULL`).Scan(&n); err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

// Reencrypt gives every live secret marked by Rekey a fresh data key, wrapped by this
// provider's master key, and re-encrypts every stored version of it under that key (the
// AAD unchanged: company, secret, version), so that neither an old master key nor an
// old data key opens what the tables hold from now on. Each secret is one transaction
// that replaces its key and its ciphertexts and clears its mark together: a run that
// stops midway leaves every secret readable under its old or its new data key, and the
// next run does the rest. Purged secrets stay without a key. each, when set, is called
// after every secret's commit; an error from it stops the run. It returns how many
// secrets it re-encrypted. Writers must be stopped: a server holding a secret's old
// data key would go on sealing new versions with it.
func (p *Provider) Reencrypt(ctx context.Context, each func() error) (int, error) {
	if _, err := VerifyKey(ctx, p.pool, p.sealer); err != nil {
		return 0, err
	}
	rows, _ := p.pool.Query(ctx, `SELECT secret_id FROM local_secret_keys
		WHERE reencrypt_pending AND wrapped_key IS NOT NULL ORDER BY secret_id`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, unavailable(err)
	}
	n := 0
	for _, id := range ids {
		did, err := p.reencryptSecret(ctx, id)
		if err != nil {
			return n, err
		}
		if !did {
			continue
		}
		n++
		if each != nil {
			if err := each(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// reencryptSecret re-encrypts one marked secret in one transaction; false when it was
// purged or done meanwhile.
func (p *Provider) reencryptSecret(ctx context.Context, id string) (bool, error) {
	did := false
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var company string
		var old []byte
		err := tx.QueryRow(ctx, `SELECT company_id, wrapped_key FROM local_secret_keys
			WHERE secret_id = $1 AND reencrypt_pending AND wrapped_key IS NOT NULL FOR UPDATE`, id).Scan(&company, &old)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return unavailable(err)
		}
		rows, _ := tx.Query(ctx, `SELECT ref FROM local_secret_values WHERE secret_id = $1 ORDER BY ref FOR UPDATE`, id)
		refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return unavailable(err)
		}
		fresh := p.sealer.NewDataKey(company, id)
		for chunk := range slices.Chunk(refs, reencryptChunk) {
			if err := p.reencryptValues(ctx, tx, company, id, old, fresh, chunk); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE local_secret_keys SET wrapped_key = $2, reencrypt_pending = false WHERE secret_id = $1`,
			id, fresh); err != nil {
			return unavailable(err)
		}
		did = true
		return nil
	})
	// Committed or not, what this process cached of the secret may be the old material.
	p.keys.drop(id)
	p.values.dropSecret(id)
	return did, err
}

// reencryptValues moves some versions of a secret from its old data key to its fresh one.
func (p *Provider) reencryptValues(ctx context.Context, tx pgx.Tx, company, id string, old, fresh []byte, refs []string) error {
	type stored struct {
		ref        string
		version    int
		ciphertext []byte
	}
	rows, _ := tx.Query(ctx, `SELECT ref, version, ciphertext FROM local_secret_values WHERE secret_id = $1 AND ref = ANY($2)`, id, refs)
	values, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stored, error) {
		var s stored
		err := r.Scan(&s.ref, &s.version, &s.ciphertext)
		return s, err
	})
	if err != nil {
		return unavailable(err)
	}
	newRefs, cts := make([]string, len(values)), make([][]byte, len(values))
	for i, s := range values {
		v, err := p.sealer.Decrypt(old, s.ciphertext, company, id, s.version)
		if err != nil {
			return err
		}
		if cts[i], err = p.sealer.Encrypt(fresh, company, id, s.version, v); err != nil {
			return err
		}
		newRefs[i] = s.ref
	}
	_, err = tx.Exec(ctx, `UPDATE local_secret_values v SET ciphertext = u.ciphertext
		FROM unnest($2::text[], $3::bytea[]) AS u(ref, ciphertext) WHERE v.secret_id = $1 AND v.ref = u.ref`, id, newRefs, cts)
	if err != nil {
		return unavailable(err)
	}
	return nil
}
