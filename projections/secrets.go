package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// SecretsName is the checkpoint name of the secrets read models.
// WARNING: persisted in projection_checkpoints.
const SecretsName = "company_secrets"

// Secrets projects secret.* events into company_secrets and company_secret_versions.
type Secrets struct{}

// Tables are the read models Secrets owns, children first (for TRUNCATE order).
func (Secrets) Tables() []string { return []string{"company_secret_versions", "company_secrets"} }

// Name implements Projection.
func (Secrets) Name() string { return SecretsName }

// Project implements eventstore.Projector: every statement of the batch of events goes
// out in one pipeline, followed by the checkpoint.
func (Secrets) Project(ctx context.Context, db eventstore.DB, evs []eventstore.Event) error {
	b := &pgx.Batch{}
	for _, e := range evs {
		p, err := events.Decode(e)
		if err != nil {
			return err
		}
		queueSecret(b, e, p)
	}
	if len(evs) > 0 {
		b.Queue(`INSERT INTO projection_checkpoints (projection, position) VALUES ($1, $2)
			ON CONFLICT (projection) DO UPDATE SET position = excluded.position`, SecretsName, evs[len(evs)-1].Position)
	}
	return translate(db.SendBatch(ctx, b).Close())
}

func actorOf(e eventstore.Event) string { return e.Metadata.ActorType + ":" + e.Metadata.ActorID }

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func queueSecret(b *pgx.Batch, e eventstore.Event, payload any) {
	at := e.RecordedAt
	switch p := payload.(type) {
	case *events.SecretCreatedV1:
		b.Queue(`INSERT INTO company_secrets (id, company_id, key, name, description, provider, status, managed_mode,
				external_ref, latest_version, created_by, created_at, updated_at, position)
			VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, 1, $9, $10, $10, $11)`,
			p.SecretID, e.CompanyID, p.Key, p.Name, p.Description, p.Provider, p.ManagedMode, nullIfEmpty(p.ExternalRef),
			actorOf(e), at, e.Position)
		b.Queue(`INSERT INTO company_secret_versions (secret_id, version, company_id, status, provider_version_ref,
				external_ref, fingerprint, created_by, created_at)
			VALUES ($1, 1, $2, 'current', $3, $4, $5, $6, $7)`,
			p.SecretID, e.CompanyID, nullIfEmpty(p.ProviderVersionRef), nullIfEmpty(p.ExternalRef), nullIfEmpty(p.Fingerprint), actorOf(e), at)
	case *events.SecretVersionAddedV1:
		b.Queue(`UPDATE company_secret_versions SET status = 'previous' WHERE secret_id = $1 AND status = 'current'`, p.SecretID)
		b.Queue(`INSERT INTO company_secret_versions (secret_id, version, company_id, status, provider_version_ref,
				external_ref, fingerprint, created_by, created_at)
			VALUES ($1, $2, $3, 'current', $4, $5, $6, $7, $8)`,
			p.SecretID, p.Version, e.CompanyID, nullIfEmpty(p.ProviderVersionRef), nullIfEmpty(p.ExternalRef), nullIfEmpty(p.Fingerprint), actorOf(e), at)
		b.Queue(`UPDATE company_secrets SET latest_version = $2, external_ref = coalesce($3, external_ref), updated_at = $4, position = $5
			WHERE id = $1`, p.SecretID, p.Version, nullIfEmpty(p.ExternalRef), at, e.Position)
	case *events.SecretUpdatedV1:
		b.Queue(`UPDATE company_secrets SET name = coalesce($2, name), key = coalesce($3, key),
				description = coalesce($4, description), status = coalesce($5, status), updated_at = $6, position = $7
			WHERE id = $1`, p.SecretID, p.Name, p.Key, p.Description, p.Status, at, e.Position)
	case *events.SecretDeletedV1:
		b.Queue(`UPDATE company_secrets SET status = 'deleted', deleted_at = $2, updated_at = $2, position = $3 WHERE id = $1`,
			p.SecretID, at, e.Position)
	case *events.SecretRestoredV1:
		b.Queue(`UPDATE company_secrets SET status = $2, deleted_at = NULL, updated_at = $3, position = $4 WHERE id = $1`,
			p.SecretID, p.Status, at, e.Position)
	case *events.SecretPurgedV1:
		b.Queue(`UPDATE company_secrets SET status = 'purged', deleted_at = coalesce(deleted_at, $2), purged_at = $2,
				updated_at = $2, position = $3 WHERE id = $1`, p.SecretID, at, e.Position)
		b.Queue(`UPDATE company_secret_versions SET status = 'destroyed' WHERE secret_id = $1`, p.SecretID)
	}
}

// translate turns the read models' unique constraints into the conflicts clients see.
func translate(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		if err != nil {
			return fmt.Errorf("projections: %w", err)
		}
		return nil
	}
	switch pgErr.ConstraintName {
	case "company_secrets_live_name":
		return ledgererr.New(ledgererr.Conflict, "a secret with this name already exists in the company")
	case "company_secrets_live_key":
		return ledgererr.New(ledgererr.Conflict, "a secret with this key already exists in the company")
	}
	return fmt.Errorf("projections: %w", err)
}
