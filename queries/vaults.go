package queries

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// Vault is a row of company_secret_provider_configs: a company's named instance of a
// provider, with its routing config (never a credential) and its last recorded health.
type Vault struct {
	ID          string
	CompanyID   string
	DisplayName string
	Provider    string
	// Status is ready, warning, coming_soon or disabled; only ready and warning vaults
	// are used.
	Status    string
	IsDefault bool
	Config    map[string]string
	// HealthStatus (ok, warning, error), HealthCheckedAt, HealthMessage and
	// HealthDetails are nil until a check was recorded.
	HealthStatus    *string
	HealthCheckedAt *time.Time
	HealthMessage   *string
	HealthDetails   map[string]any
	DisabledAt      *time.Time
	CreatedBy       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Position        int64
}

// Usable reports whether secrets may be placed in the vault (ready or warning).
func (v Vault) Usable() bool { return v.Status == "ready" || v.Status == "warning" }

// Vaults reads the provider vaults read model.
type Vaults struct {
	DB *pgxpool.Pool
}

const vaultColumns = `id, company_id, display_name, provider, status, is_default, config, health_status, health_checked_at,
	health_message, health_details, disabled_at, created_by, created_at, updated_at, position`

func scanVault(row pgx.CollectableRow) (Vault, error) {
	var v Vault
	err := row.Scan(&v.ID, &v.CompanyID, &v.DisplayName, &v.Provider, &v.Status, &v.IsDefault, &v.Config, &v.HealthStatus,
		&v.HealthCheckedAt, &v.HealthMessage, &v.HealthDetails, &v.DisabledAt, &v.CreatedBy, &v.CreatedAt, &v.UpdatedAt, &v.Position)
	if v.Config == nil {
		v.Config = map[string]string{}
	}
	return v, err
}

var errVaultNotFound = ledgererr.New(ledgererr.NotFound, "provider vault not found")

// VaultFilter narrows a list of vaults.
type VaultFilter struct {
	// Provider keeps the vaults of this provider only ("" keeps all).
	Provider string
}

// List returns a page of a company's vaults, disabled ones included, oldest first.
func (q Vaults) List(ctx context.Context, a actor.Actor, companyID string, f VaultFilter, p PageRequest) (Page[Vault], error) {
	if !a.CanAccess(companyID) {
		return Page[Vault]{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	var afterID string
	if _, err := p.decodeCursor(&afterID); err != nil {
		return Page[Vault]{}, err
	}
	rows, err := q.DB.Query(ctx, `SELECT `+vaultColumns+` FROM company_secret_provider_configs
		WHERE company_id = $1 AND ($2 = '' OR provider = $2) AND id > $3
		ORDER BY id LIMIT $4`, companyID, f.Provider, afterID, p.size()+1)
	list, err := collect(rows, err, scanVault)
	if err != nil {
		return Page[Vault]{}, err
	}
	return pageOf(p, list, func(v Vault) []any { return []any{v.ID} }), nil
}

// Get returns one vault the actor may see, disabled or not.
func (q Vaults) Get(ctx context.Context, a actor.Actor, id string) (Vault, error) {
	v, err := q.get(ctx, `id = $1`, id)
	if err == nil && !a.CanAccess(v.CompanyID) {
		return Vault{}, errVaultNotFound
	}
	return v, err
}

// Default returns the default vault of a company's provider; found is false when it
// has none. It is not scoped by an actor: the ledger uses it to place new secrets.
func (q Vaults) Default(ctx context.Context, companyID, provider string) (Vault, bool, error) {
	v, err := q.get(ctx, `company_id = $1 AND provider = $2 AND is_default`, companyID, provider)
	if ledgererr.CodeOf(err) == ledgererr.NotFound {
		return Vault{}, false, nil
	}
	return v, err == nil, err
}

// VaultCompany implements commands.VaultLocator: the company a vault belongs to.
func (q Vaults) VaultCompany(ctx context.Context, id string) (string, error) {
	var company string
	err := q.DB.QueryRow(ctx, `SELECT company_id FROM company_secret_provider_configs WHERE id = $1`, id).Scan(&company)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errVaultNotFound
	}
	if err != nil {
		return "", unavailable(err)
	}
	return company, nil
}

func (q Vaults) get(ctx context.Context, where string, args ...any) (Vault, error) {
	rows, err := q.DB.Query(ctx, `SELECT `+vaultColumns+` FROM company_secret_provider_configs WHERE `+where, args...)
	if err != nil {
		return Vault{}, unavailable(err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, scanVault)
	if errors.Is(err, pgx.ErrNoRows) {
		return Vault{}, errVaultNotFound
	}
	if err != nil {
		return Vault{}, unavailable(err)
	}
	return v, nil
}

// UsableVaultIDs returns the ids of up to limit ready or warning vaults of every company,
// by id: the scheduled health check's round.
func (q Vaults) UsableVaultIDs(ctx context.Context, limit int) ([]string, error) {
	rows, err := q.DB.Query(ctx, `SELECT id FROM company_secret_provider_configs
		WHERE status IN ('ready', 'warning') ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, unavailable(err)
	}
	return ids, nil
}

// RemoteVaultConfigs returns the id, provider, status and config of every aws_secrets_manager
// and vault vault of every company, disabled and draft ones included (their secrets keep
// their names): the managed namespaces no external reference may name.
func (q Vaults) RemoteVaultConfigs(ctx context.Context) ([]Vault, error) {
	rows, err := q.DB.Query(ctx, `SELECT id, provider, status, config FROM company_secret_provider_configs
		WHERE provider IN ('aws_secrets_manager', 'vault') ORDER BY id`)
	if err != nil {
		return nil, unavailable(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Vault, error) {
		var v Vault
		err := row.Scan(&v.ID, &v.Provider, &v.Status, &v.Config)
		return v, err
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return list, nil
}
