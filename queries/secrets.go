package queries

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Secret is a row of company_secrets. It never holds a value.
type Secret struct {
	ID               string
	CompanyID        string
	Key              string
	Name             string
	Description      string
	Provider         string
	Status           string
	ManagedMode      string
	ExternalRef      *string
	ProviderConfigID *string
	LatestVersion    int
	CreatedBy        string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastResolvedAt   *time.Time
	DeletedAt        *time.Time
	Position         int64
}

// Version is a row of company_secret_versions.
type Version struct {
	SecretID           string
	Version            int
	Status             string
	ProviderVersionRef *string
	ExternalRef        *string
	Fingerprint        *string
	CreatedBy          string
	CreatedAt          time.Time
}

// Secrets reads the secrets read models.
type Secrets struct {
	DB *pgxpool.Pool
}

const secretColumns = `id, company_id, key, name, description, provider, status, managed_mode, external_ref,
	provider_config_id, latest_version, created_by, created_at, updated_at, last_resolved_at, deleted_at, position`

func scanSecret(row pgx.CollectableRow) (Secret, error) { return scanSecretRow(row) }

func scanSecretRow(row pgx.Row) (Secret, error) {
	var s Secret
	err := row.Scan(&s.ID, &s.CompanyID, &s.Key, &s.Name, &s.Description, &s.Provider, &s.Status, &s.ManagedMode,
		&s.ExternalRef, &s.ProviderConfigID, &s.LatestVersion, &s.CreatedBy, &s.CreatedAt, &s.UpdatedAt,
		&s.LastResolvedAt, &s.DeletedAt, &s.Position)
	return s, err
}

var errNotFound = ledgererr.New(ledgererr.NotFound, "secret not found")

func unavailable(err error) error {
	return ledgererr.Wrap(err, ledgererr.Unavailable, "read models unavailable")
}

// SecretFilter narrows a list of secrets.
type SecretFilter struct {
	// Search keeps secrets whose name or key holds it (case-insensitive).
	Search string
	// Deleted lists the deleted (and purged) secrets instead of the live ones.
	Deleted bool
}

// List returns a page of a company's secrets, live or deleted, by name.
func (q Secrets) List(ctx context.Context, a actor.Actor, companyID string, f SecretFilter, p PageRequest) (Page[Secret], error) {
	if !a.CanAccess(companyID) {
		return Page[Secret]{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	var afterName, afterID string
	if _, err := p.decodeCursor(&afterName, &afterID); err != nil {
		return Page[Secret]{}, err
	}
	rows, err := q.DB.Query(ctx, `SELECT `+secretColumns+` FROM company_secrets
		WHERE company_id = $1 AND (deleted_at IS NOT NULL) = $2
		  AND ($3 = '' OR strpos(lower(name), lower($3)) > 0 OR strpos(key, lower($3)) > 0)
		  AND (name, id) > ($4, $5)
		ORDER BY name, id LIMIT $6`, companyID, f.Deleted, f.Search, afterName, afterID, p.size()+1)
	list, err := collect(rows, err, scanSecret)
	if err != nil {
		return Page[Secret]{}, err
	}
	return pageOf(p, list, func(s Secret) []any { return []any{s.Name, s.ID} }), nil
}

// Get returns one secret that is not deleted and that the actor may see.
func (q Secrets) Get(ctx context.Context, a actor.Actor, id string) (Secret, error) {
	return q.get(ctx, a, `SELECT `+secretColumns+` FROM company_secrets WHERE id = $1 AND deleted_at IS NULL`, id)
}

// GetIncludingDeleted is Get that also returns a deleted or purged secret (with
// DeletedAt), as the list of deleted secrets does.
func (q Secrets) GetIncludingDeleted(ctx context.Context, a actor.Actor, id string) (Secret, error) {
	return q.get(ctx, a, `SELECT `+secretColumns+` FROM company_secrets WHERE id = $1`, id)
}

func (q Secrets) get(ctx context.Context, a actor.Actor, sql, id string) (Secret, error) {
	rows, err := q.DB.Query(ctx, sql, id)
	if err != nil {
		return Secret{}, unavailable(err)
	}
	s, err := pgx.CollectExactlyOneRow(rows, scanSecret)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !a.CanAccess(s.CompanyID)) {
		return Secret{}, errNotFound
	}
	if err != nil {
		return Secret{}, unavailable(err)
	}
	return s, nil
}

// Readback is the statement that reads a secret's row inside the transaction of the
// append that changed it (the command has checked the actor already); got receives it.
func (q Secrets) Readback(id string, got func(Secret)) eventstore.Statement {
	return eventstore.Statement{SQL: `SELECT ` + secretColumns + ` FROM company_secrets WHERE id = $1`, Args: []any{id},
		Row: func(row pgx.Row) error {
			s, err := scanSecretRow(row)
			if err == nil {
				got(s)
			}
			return err
		}}
}

// Versions returns a page of a secret's versions, newest first.
func (q Secrets) Versions(ctx context.Context, a actor.Actor, id string, p PageRequest) (Page[Version], error) {
	if _, err := q.Get(ctx, a, id); err != nil {
		return Page[Version]{}, err
	}
	before := int(^uint32(0) >> 1)
	if _, err := p.decodeCursor(&before); err != nil {
		return Page[Version]{}, err
	}
	// A stored 'current' that a later version replaced is 'previous' (the projection
	// does not update old rows on rotation).
	rows, err := q.DB.Query(ctx, `SELECT v.secret_id, v.version,
			CASE WHEN v.status IN ('current', 'previous') AND v.version < s.latest_version THEN 'previous' ELSE v.status END,
			v.provider_version_ref, v.external_ref, v.fingerprint, v.created_by, v.created_at
		FROM company_secret_versions v JOIN company_secrets s ON s.id = v.secret_id
		WHERE v.secret_id = $1 AND v.version < $2 ORDER BY v.version DESC LIMIT $3`, id, before, p.size()+1)
	list, err := collect(rows, err, func(row pgx.CollectableRow) (Version, error) {
		var v Version
		err := row.Scan(&v.SecretID, &v.Version, &v.Status, &v.ProviderVersionRef, &v.ExternalRef, &v.Fingerprint,
			&v.CreatedBy, &v.CreatedAt)
		return v, err
	})
	if err != nil {
		return Page[Version]{}, err
	}
	return pageOf(p, list, func(v Version) []any { return []any{v.Version} }), nil
}
