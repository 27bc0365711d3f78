package projections

import (
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// VaultsName is the checkpoint name of the provider vaults read model.
// WARNING: persisted in projection_checkpoints.
const VaultsName = "company_secret_provider_configs"

// Vaults projects vault.* events into company_secret_provider_configs.
type Vaults struct{}

// Name implements Projection.
func (Vaults) Name() string { return VaultsName }

// Tables implements Projection.
func (Vaults) Tables() []string { return []string{"company_secret_provider_configs"} }

// Queue implements eventstore.Projector.
func (v Vaults) Queue(b *pgx.Batch, evs []eventstore.Event) error { return queueDecoding(v, b, evs) }

func (Vaults) queue(b *pgx.Batch, evs []eventstore.Event, payloads []any) error {
	for i, e := range evs {
		if err := vaultsTable.Apply(b, e, payloads[i]); err != nil {
			return err
		}
	}
	return nil
}

// Reader implements Projection.
func (Vaults) Reader() events.Reader { return vaultsTable.Reader() }

// Translate implements eventstore.Projector. A second default is refused by the
// stream's rules before it reaches here; should one arrive anyway, it is a conflict.
func (Vaults) Translate(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "company_secret_provider_configs_one_default" {
		return ledgererr.New(ledgererr.Conflict, "the provider already has a default vault in this company")
	}
	return err
}

// vaultsTable is what the vaults projection does with each event type.
var vaultsTable = events.Dispatch[*pgx.Batch]{
	Name: "projections: " + VaultsName,
	Handle: map[string]events.Handler[*pgx.Batch]{
		events.VaultCreated: events.OnErr(func(b *pgx.Batch, e eventstore.Event, p *events.VaultCreatedV1) error {
			cfg, err := json.Marshal(p.Config)
			if err != nil {
				return err
			}
			b.Queue(`INSERT INTO company_secret_provider_configs (id, company_id, display_name, provider, status, is_default,
					config, created_by, created_at, updated_at, position)
				VALUES ($1, $2, $3, $4, $5, false, $6, $7, $8, $8, $9)`,
				p.VaultID, e.CompanyID, p.DisplayName, p.Provider, p.Status, cfg, actorOf(e), e.RecordedAt, e.Position)
			return nil
		}),
		events.VaultUpdated: events.OnErr(func(b *pgx.Batch, e eventstore.Event, p *events.VaultUpdatedV1) error {
			var cfg []byte // nil: NULL, the config did not change
			if p.Config != nil {
				var err error
				if cfg, err = json.Marshal(*p.Config); err != nil {
					return err
				}
			}
			// A new config forgets the health check of the old one.
			b.Queue(`UPDATE company_secret_provider_configs SET display_name = coalesce($2, display_name),
					config = coalesce($3::jsonb, config),
					status = CASE WHEN $3::jsonb IS NOT NULL AND status = 'warning' THEN 'ready' ELSE status END,
					health_status = CASE WHEN $3::jsonb IS NULL THEN health_status END,
					health_checked_at = CASE WHEN $3::jsonb IS NULL THEN health_checked_at END,
					health_message = CASE WHEN $3::jsonb IS NULL THEN health_message END,
					health_details = CASE WHEN $3::jsonb IS NULL THEN health_details END,
					updated_at = $4, position = $5
				WHERE id = $1`, p.VaultID, p.DisplayName, cfg, e.RecordedAt, e.Position)
			return nil
		}),
		events.VaultDefaultSet: events.On(func(b *pgx.Batch, e eventstore.Event, p *events.VaultDefaultSetV1) {
			// Clear first, then set: the unique index of defaults is checked row by row.
			b.Queue(`UPDATE company_secret_provider_configs SET is_default = false, updated_at = $3, position = $4
				WHERE company_id = $1 AND provider = $2 AND is_default AND id <> $5`, e.CompanyID, p.Provider, e.RecordedAt, e.Position, p.VaultID)
			b.Queue(`UPDATE company_secret_provider_configs SET is_default = true, updated_at = $2, position = $3 WHERE id = $1`,
				p.VaultID, e.RecordedAt, e.Position)
		}),
		events.VaultDisabled: events.On(func(b *pgx.Batch, e eventstore.Event, p *events.VaultDisabledV1) {
			b.Queue(`UPDATE company_secret_provider_configs SET status = 'disabled', is_default = false, disabled_at = $2,
					updated_at = $2, position = $3 WHERE id = $1`, p.VaultID, e.RecordedAt, e.Position)
		}),
		events.VaultHealthChecked: events.OnErr(func(b *pgx.Batch, e eventstore.Event, p *events.VaultHealthCheckedV1) error {
			details, err := json.Marshal(p.Details)
			if err != nil {
				return err
			}
			b.Queue(`UPDATE company_secret_provider_configs SET health_status = $2, health_message = $3, health_details = $4,
					health_checked_at = $5, status = $6, updated_at = $5, position = $7 WHERE id = $1`,
				p.VaultID, p.HealthStatus, p.Message, details, e.RecordedAt, p.Status, e.Position)
			return nil
		}),
	},
	Ignore: []string{events.SecretCreated, events.SecretVersionAdded, events.SecretUpdated, events.SecretDeleted,
		events.SecretRestored, events.SecretPurged, events.BindingCreated, events.BindingRemoved, events.ConsumerEnvSet,
		events.AgentKeyIssued, events.AgentKeyRevoked, events.SecretAccessed, events.CompanyFrozen, events.CompanyUnfrozen,
		events.ConsumerFrozen, events.ConsumerUnfrozen, events.ExternalPolicySet, events.ExternalReferenceRefused,
		events.EventSubscriberIssued, events.EventSubscriberRevoked, events.LeakScanRecorded, events.SecretExposureReported},
}
