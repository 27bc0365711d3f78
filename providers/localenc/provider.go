package localenc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Provider is local_encrypted: ciphertext and wrapped data keys in PostgreSQL tables of
// their own (local_secret_keys, local_secret_values), never in the log.
type Provider struct {
	pool     *pgxpool.Pool
	sealer   *Sealer
	findings []Finding
	keys     keyCache
	values   valueCache
}

// NewProvider returns the provider over pool with the master key k; findings are the
// key's permission problems, reported by Health.
func NewProvider(pool *pgxpool.Pool, k MasterKey, findings []Finding) (*Provider, error) {
	s, err := NewSealer(k)
	if err != nil {
		return nil, err
	}
	return &Provider{pool: pool, sealer: s, findings: findings}, nil
}

// Sealer exposes the provider's sealer (its fingerprints, request hashes and key).
func (p *Provider) Sealer() *Sealer { return p.sealer }

// Descriptor implements providers.Provider.
func (p *Provider) Descriptor() providers.Descriptor {
	return providers.Descriptor{ID: providers.LocalEncrypted, Label: "Local encrypted",
		SupportsManagedValues: true, SupportsExternalReferences: false, Configured: true}
}

func unavailable(err error) error {
	return ledgererr.Wrap(err, ledgererr.Unavailable, "local_encrypted provider storage unavailable")
}

// Put implements providers.Provider: it creates the secret's data key on first use and
// stores the version's ciphertext under a fresh reference, in one round trip when the
// wrapped key is cached.
//
// The write commits with synchronous_commit off: it needs no flush of its own, because
// the ledger appends the event that refers to it afterwards, synchronously, and WAL is
// flushed in order — once that event is durable, so is this row. If the append never
// happens, losing the row loses nothing.
func (p *Provider) Put(ctx context.Context, ref providers.Ref, v providers.Value) (providers.Stored, error) {
	vref := "lev_" + ulid.Make().String()
	k, err := p.dataKey(ctx, ref)
	if err != nil {
		return providers.Stored{}, err
	}
	if k.wrapped == nil {
		// A new secret: create its key and the value in one statement.
		wrapped := p.sealer.NewDataKey(ref.CompanyID, ref.SecretID)
		ct, err := p.sealer.Encrypt(wrapped, ref.CompanyID, ref.SecretID, ref.Version, v)
		if err != nil {
			return providers.Stored{}, err
		}
		var n int64
		err = p.async(ctx, func(b *pgx.Batch) {
			b.Queue(`WITH k AS (INSERT INTO local_secret_keys (secret_id, company_id, wrapped_key) VALUES ($1, $2, $3)
				ON CONFLICT (secret_id) DO NOTHING RETURNING secret_id)
				INSERT INTO local_secret_values (secret_id, ref, version, ciphertext) SELECT secret_id, $4, $5, $6 FROM k`,
				ref.SecretID, ref.CompanyID, wrapped, vref, ref.Version, ct).Exec(func(tag pgconn.CommandTag) error {
				n = tag.RowsAffected()
				return nil
			})
		})
		if err != nil {
			return providers.Stored{}, err
		}
		if n == 1 {
			p.keys.put(ref.SecretID, cachedKey{company: ref.CompanyID, wrapped: wrapped})
			return providers.Stored{ProviderVersionRef: vref, Fingerprint: p.sealer.Fingerprint(ref.CompanyID, v)}, nil
		}
		// Another writer created the key meanwhile: use theirs.
		if k, err = p.dataKey(ctx, ref); err != nil {
			return providers.Stored{}, err
		}
	}
	ct, err := p.sealer.Encrypt(k.wrapped, ref.CompanyID, ref.SecretID, ref.Version, v)
	if err != nil {
		return providers.Stored{}, err
	}
	err = p.async(ctx, func(b *pgx.Batch) {
		b.Queue(`INSERT INTO local_secret_values (secret_id, ref, version, ciphertext) VALUES ($1, $2, $3, $4)`,
			ref.SecretID, vref, ref.Version, ct)
	})
	if err != nil {
		return providers.Stored{}, err
	}
	return providers.Stored{ProviderVersionRef: vref, Fingerprint: p.sealer.Fingerprint(ref.CompanyID, v)}, nil
}

// Stage implements providers.Stager: the version's ciphertext (and, for a new secret,
// its wrapped data key) is inserted by the append that records it, in the same
// transaction. Encryption happens here; only the key look-up of a secret this process
// has not seen yet costs a query.
func (p *Provider) Stage(ctx context.Context, ref providers.Ref, v providers.Value) (providers.Stored, providers.StagedWrite, error) {
	vref := "lev_" + ulid.Make().String()
	k, err := p.dataKey(ctx, ref)
	if err != nil {
		return providers.Stored{}, providers.StagedWrite{}, err
	}
	newKey := k.wrapped == nil
	if newKey {
		k = cachedKey{company: ref.CompanyID, wrapped: p.sealer.NewDataKey(ref.CompanyID, ref.SecretID)}
	}
	ct, err := p.sealer.Encrypt(k.wrapped, ref.CompanyID, ref.SecretID, ref.Version, v)
	if err != nil {
		return providers.Stored{}, providers.StagedWrite{}, err
	}
	w := providers.StagedWrite{
		SQL: `WITH v AS (INSERT INTO local_secret_values (secret_id, ref, version, ciphertext) VALUES ($1, $2, $3, $4) RETURNING 1)
			SELECT count(*) FROM v`,
		Args: []any{ref.SecretID, vref, ref.Version, ct},
		Committed: func() {
			p.keys.put(ref.SecretID, k)
			p.values.put(ref.SecretID, vref, ct)
		},
	}
	if newKey {
		// The key and the value in one statement; if another writer created the key
		// first, nothing is stored and the count says so (the append then fails).
		w.SQL = `WITH k AS (INSERT INTO local_secret_keys (secret_id, company_id, wrapped_key) VALUES ($1, $5, $6)
				ON CONFLICT (secret_id) DO NOTHING RETURNING secret_id),
			v AS (INSERT INTO local_secret_values (secret_id, ref, version, ciphertext) SELECT secret_id, $2, $3, $4 FROM k RETURNING 1)
			SELECT count(*) FROM v`
		w.Args = append(w.Args, ref.CompanyID, k.wrapped)
	}
	return providers.Stored{ProviderVersionRef: vref, Fingerprint: p.sealer.Fingerprint(ref.CompanyID, v)}, w, nil
}

// async runs statements in one transaction committed without waiting for the WAL flush
// (see Put), in one round trip.
func (p *Provider) async(ctx context.Context, queue func(*pgx.Batch)) error {
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	queue(b)
	b.Queue(`COMMIT`)
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer conn.Release()
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, rbErr := conn.Exec(rctx, "ROLLBACK"); rbErr != nil {
			_ = conn.Conn().Close(rctx)
		}
		return unavailable(err)
	}
	return nil
}

// dataKey returns a secret's wrapped data key: from the cache, else from the table
// (wrapped nil when the secret has none yet). A purged secret is an error.
func (p *Provider) dataKey(ctx context.Context, ref providers.Ref) (cachedKey, error) {
	k, ok := p.keys.get(ref.SecretID)
	if !ok {
		var destroyed bool
		err := p.pool.QueryRow(ctx, `SELECT company_id, wrapped_key, destroyed_at IS NOT NULL FROM local_secret_keys WHERE secret_id = $1`,
			ref.SecretID).Scan(&k.company, &k.wrapped, &destroyed)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return cachedKey{}, nil
		case err != nil:
			return cachedKey{}, unavailable(err)
		case destroyed:
			return cachedKey{}, ledgererr.New(ledgererr.Invalid, "secret %s was purged: its data key is destroyed", ref.SecretID)
		}
		p.keys.put(ref.SecretID, k)
	}
	if k.company != ref.CompanyID {
		return cachedKey{}, ledgererr.New(ledgererr.Internal, "secret %s belongs to another company at the provider", ref.SecretID)
	}
	return k, nil
}

// Link implements providers.Provider; local_encrypted holds no external references.
func (p *Provider) Link(context.Context, providers.Ref, string, string) (providers.Stored, error) {
	return providers.Stored{}, ledgererr.New(ledgererr.Invalid, "the local_encrypted provider does not support external references")
}

// Resolve implements providers.Provider.
func (p *Provider) Resolve(ctx context.Context, ref providers.Ref, vref string) (providers.Value, error) {
	r := p.ResolveMany(ctx, ref.CompanyID, []providers.VersionRequest{{Ref: ref, ProviderVersionRef: vref}})
	return r[0].Value, r[0].Err
}

// ResolveMany reads several values of one company: those whose ciphertext and data key
// this process holds from memory, the others in one query. Each result has its value
// or its own error.
func (p *Provider) ResolveMany(ctx context.Context, companyID string, reqs []providers.VersionRequest) []providers.Resolved {
	out := make([]providers.Resolved, len(reqs))
	var secrets, refs []string
	var pending []int // indexes of reqs still to read
	for i, r := range reqs {
		k, kok := p.keys.get(r.Ref.SecretID)
		ct, cok := p.values.get(r.Ref.SecretID, r.ProviderVersionRef)
		if kok && cok && k.company == companyID && r.Ref.CompanyID == companyID {
			out[i].Value, out[i].Err = p.sealer.Decrypt(k.wrapped, ct, companyID, r.Ref.SecretID, r.Ref.Version)
			continue
		}
		pending = append(pending, i)
		secrets, refs = append(secrets, r.Ref.SecretID), append(refs, r.ProviderVersionRef)
	}
	if len(pending) == 0 {
		return out
	}
	rows, err := p.pool.Query(ctx, `SELECT v.secret_id, v.ref, k.wrapped_key, v.ciphertext
		FROM unnest($1::text[], $2::text[]) AS q(secret_id, ref)
		JOIN local_secret_values v ON v.secret_id = q.secret_id AND v.ref = q.ref
		JOIN local_secret_keys k ON k.secret_id = v.secret_id AND k.company_id = $3`, secrets, refs, companyID)
	if err != nil {
		for _, i := range pending {
			out[i].Err = unavailable(err)
		}
		return out
	}
	type stored struct{ wrapped, ct []byte }
	found := map[[2]string]stored{}
	for rows.Next() {
		var secret, ref string
		var st stored
		if err := rows.Scan(&secret, &ref, &st.wrapped, &st.ct); err != nil {
			rows.Close()
			for _, i := range pending {
				out[i].Err = unavailable(err)
			}
			return out
		}
		found[[2]string{secret, ref}] = st
	}
	rows.Close()
	// A connection lost while the rows came (reset, or a request timeout) ends Next
	// early; without this check the values not read yet were reported as not stored
	// (a 422 for a value the database holds), not as the storage being unavailable.
	if err := rows.Err(); err != nil {
		for _, i := range pending {
			out[i].Err = unavailable(err)
		}
		return out
	}
	for _, i := range pending {
		r := reqs[i]
		st, ok := found[[2]string{r.Ref.SecretID, r.ProviderVersionRef}]
		switch {
		case !ok:
			out[i].Err = ledgererr.New(ledgererr.NotFound, "version %d of secret %s has no stored value", r.Ref.Version, r.Ref.SecretID)
		case st.wrapped == nil:
			out[i].Err = ledgererr.New(ledgererr.NotFound, "secret %s was purged", r.Ref.SecretID)
		default:
			out[i].Value, out[i].Err = p.sealer.Decrypt(st.wrapped, st.ct, r.Ref.CompanyID, r.Ref.SecretID, r.Ref.Version)
			if out[i].Err == nil {
				p.keys.put(r.Ref.SecretID, cachedKey{company: companyID, wrapped: st.wrapped})
				p.values.put(r.Ref.SecretID, r.ProviderVersionRef, st.ct)
			}
		}
	}
	return out
}

// Discard implements providers.Provider.
func (p *Provider) Discard(ctx context.Context, ref providers.Ref, vref string) error {
	p.values.drop(ref.SecretID, vref)
	if _, err := p.pool.Exec(ctx, `DELETE FROM local_secret_values WHERE secret_id = $1 AND ref = $2`, ref.SecretID, vref); err != nil {
		return unavailable(err)
	}
	return nil
}

// Destroy implements providers.Provider: the wrapped data key is erased, so every
// ciphertext of the secret is unrecoverable (crypto-shredding); the log is untouched.
func (p *Provider) Destroy(ctx context.Context, ref providers.Ref) error {
	p.keys.drop(ref.SecretID)
	p.values.dropSecret(ref.SecretID)
	_, err := p.pool.Exec(ctx, `UPDATE local_secret_keys SET wrapped_key = NULL, destroyed_at = coalesce(destroyed_at, now())
		WHERE secret_id = $1 AND company_id = $2`, ref.SecretID, ref.CompanyID)
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Health implements providers.Provider: whether the storage answers, and as details of
// the instance the master key's source and fingerprint and its permission findings.
func (p *Provider) Health(ctx context.Context) providers.Health {
	h := providers.Health{Provider: providers.LocalEncrypted, OK: true,
		Details: []string{fmt.Sprintf("master key %s from %s", p.sealer.key.Fingerprint(), p.sealer.key.Source)}}
	for _, f := range p.findings {
		h.Details = append(h.Details, "warning: "+string(f))
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := p.pool.Ping(ctx); err != nil {
		h.OK = false
		h.Findings = append(h.Findings, "storage unreachable")
	}
	return h
}
