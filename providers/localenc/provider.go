package localenc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
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

// Sealer exposes the provider's sealer (fingerprints of request bodies use its key).
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
// stores the version's ciphertext under a fresh reference.
func (p *Provider) Put(ctx context.Context, ref providers.Ref, v providers.Value) (providers.Stored, error) {
	vref := "lev_" + ulid.Make().String()
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO local_secret_keys (secret_id, company_id, wrapped_key) VALUES ($1, $2, $3)
			ON CONFLICT (secret_id) DO NOTHING`, ref.SecretID, ref.CompanyID, p.sealer.NewDataKey(ref.CompanyID, ref.SecretID)); err != nil {
			return unavailable(err)
		}
		var wrapped []byte
		var company string
		if err := tx.QueryRow(ctx, `SELECT wrapped_key, company_id FROM local_secret_keys WHERE secret_id = $1`, ref.SecretID).
			Scan(&wrapped, &company); err != nil {
			return unavailable(err)
		}
		if company != ref.CompanyID {
			return ledgererr.New(ledgererr.Internal, "secret %s belongs to another company at the provider", ref.SecretID)
		}
		if wrapped == nil {
			return ledgererr.New(ledgererr.Invalid, "secret %s was purged: its data key is destroyed", ref.SecretID)
		}
		ct, err := p.sealer.Encrypt(wrapped, ref.CompanyID, ref.SecretID, ref.Version, v)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO local_secret_values (secret_id, ref, version, ciphertext) VALUES ($1, $2, $3, $4)`,
			ref.SecretID, vref, ref.Version, ct); err != nil {
			return unavailable(err)
		}
		return nil
	})
	if err != nil {
		return providers.Stored{}, err
	}
	return providers.Stored{ProviderVersionRef: vref, Fingerprint: p.sealer.Fingerprint(v)}, nil
}

// Link implements providers.Provider; local_encrypted holds no external references.
func (p *Provider) Link(context.Context, providers.Ref, string, string) (providers.Stored, error) {
	return providers.Stored{}, ledgererr.New(ledgererr.Invalid, "the local_encrypted provider does not support external references")
}

// Resolve implements providers.Provider.
func (p *Provider) Resolve(ctx context.Context, ref providers.Ref, vref string) (providers.Value, error) {
	var wrapped, ct []byte
	err := p.pool.QueryRow(ctx, `SELECT k.wrapped_key, v.ciphertext FROM local_secret_values v
		JOIN local_secret_keys k USING (secret_id) WHERE v.secret_id = $1 AND v.ref = $2 AND k.company_id = $3`,
		ref.SecretID, vref, ref.CompanyID).Scan(&wrapped, &ct)
	if errors.Is(err, pgx.ErrNoRows) {
		return providers.Value{}, ledgererr.New(ledgererr.NotFound, "version %d of secret %s has no stored value", ref.Version, ref.SecretID)
	}
	if err != nil {
		return providers.Value{}, unavailable(err)
	}
	if wrapped == nil {
		return providers.Value{}, ledgererr.New(ledgererr.NotFound, "secret %s was purged", ref.SecretID)
	}
	return p.sealer.Decrypt(wrapped, ct, ref.CompanyID, ref.SecretID, ref.Version)
}

// Discard implements providers.Provider.
func (p *Provider) Discard(ctx context.Context, ref providers.Ref, vref string) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM local_secret_values WHERE secret_id = $1 AND ref = $2`, ref.SecretID, vref); err != nil {
		return unavailable(err)
	}
	return nil
}

// Destroy implements providers.Provider: the wrapped data key is erased, so every
// ciphertext of the secret is unrecoverable (crypto-shredding); the log is untouched.
func (p *Provider) Destroy(ctx context.Context, companyID, secretID string) error {
	_, err := p.pool.Exec(ctx, `UPDATE local_secret_keys SET wrapped_key = NULL, destroyed_at = coalesce(destroyed_at, now())
		WHERE secret_id = $1 AND company_id = $2`, secretID, companyID)
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Health implements providers.Provider: the master key's source and fingerprint, its
// permission findings, and whether the storage answers.
func (p *Provider) Health(ctx context.Context) providers.Health {
	h := providers.Health{Provider: providers.LocalEncrypted, OK: true,
		Findings: []string{fmt.Sprintf("master key %s from %s", p.sealer.key.Fingerprint(), p.sealer.key.Source)}}
	for _, f := range p.findings {
		h.Findings = append(h.Findings, "warning: "+string(f))
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := p.pool.Ping(ctx); err != nil {
		h.OK = false
		h.Findings = append(h.Findings, "storage unreachable")
	}
	return h
}

// Rekey rewraps every live data key under next, in one transaction, and returns how
// many it rewrapped. Ciphertexts and the event log are not touched.
func (p *Provider) Rekey(ctx context.Context, next *Sealer) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
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
		for _, k := range keys {
			rewrapped, err := p.sealer.Rewrap(k.wrapped, k.company, k.secret, next)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE local_secret_keys SET wrapped_key = $2 WHERE secret_id = $1`, k.secret, rewrapped); err != nil {
				return unavailable(err)
			}
			n++
		}
		return nil
	})
	return n, err
}
