package projections

import (
	"errors"
	"time"

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

// Queue implements eventstore.Projector.
func (s Secrets) Queue(b *pgx.Batch, evs []eventstore.Event) error { return queueDecoding(s, b, evs) }

func (Secrets) queue(b *pgx.Batch, evs []eventstore.Event, payloads []any) error {
	sb := &secretsBatch{b: b}
	for i, e := range evs {
		if err := secretsTable.Apply(sb, e, payloads[i]); err != nil {
			return err
		}
	}
	sb.flush()
	return nil
}

// Reader implements Projection.
func (Secrets) Reader() events.Reader { return secretsTable.Reader() }

// secretsBatch is one batch of the secrets projection. Runs of creations and of
// rotations go out as one statement each; any other secret event first flushes them,
// so the order of effects is the log's.
type secretsBatch struct {
	b       *pgx.Batch
	created createdRun
	added   versionRun
}

func (sb *secretsBatch) flush() {
	sb.created.flush(sb.b)
	sb.added.flush(sb.b)
}

// secretsTable is what the secrets projection does with each event type.
var secretsTable = events.Dispatch[*secretsBatch]{
	Name: "projections: " + SecretsName,
	Handle: map[string]events.Handler[*secretsBatch]{
		events.SecretCreated: events.On(func(sb *secretsBatch, e eventstore.Event, p *events.SecretCreatedV1) {
			sb.added.flush(sb.b)
			sb.created.add(e, p)
		}),
		events.SecretVersionAdded: events.On(func(sb *secretsBatch, e eventstore.Event, p *events.SecretVersionAddedV1) {
			sb.created.flush(sb.b)
			sb.added.add(e, p)
		}),
		events.SecretUpdated: events.On(func(sb *secretsBatch, e eventstore.Event, p *events.SecretUpdatedV1) {
			sb.flush()
			sb.b.Queue(`UPDATE company_secrets SET name = coalesce($2, name), key = coalesce($3, key),
					description = coalesce($4, description), status = coalesce($5, status), updated_at = $6, position = $7
				WHERE id = $1`, p.SecretID, p.Name, p.Key, p.Description, p.Status, e.RecordedAt, e.Position)
		}),
		events.SecretDeleted: events.On(func(sb *secretsBatch, e eventstore.Event, p *events.SecretDeletedV1) {
			sb.flush()
			sb.b.Queue(`UPDATE company_secrets SET status = 'deleted', deleted_at = $2, updated_at = $2, position = $3 WHERE id = $1`,
				p.SecretID, e.RecordedAt, e.Position)
		}),
		events.SecretRestored: events.On(func(sb *secretsBatch, e eventstore.Event, p *events.SecretRestoredV1) {
			sb.flush()
			sb.b.Queue(`UPDATE company_secrets SET status = $2, deleted_at = NULL, updated_at = $3, position = $4 WHERE id = $1`,
				p.SecretID, p.Status, e.RecordedAt, e.Position)
		}),
		events.SecretPurged: events.On(func(sb *secretsBatch, e eventstore.Event, p *events.SecretPurgedV1) {
			sb.flush()
			sb.b.Queue(`UPDATE company_secrets SET status = 'purged', deleted_at = coalesce(deleted_at, $2), purged_at = $2,
					updated_at = $2, position = $3 WHERE id = $1`, p.SecretID, e.RecordedAt, e.Position)
			sb.b.Queue(`UPDATE company_secret_versions SET status = 'destroyed' WHERE secret_id = $1`, p.SecretID)
		}),
	},
	// last_resolved_at is the consumers projection's (from secret.accessed).
	Ignore: []string{events.BindingCreated, events.BindingRemoved, events.ConsumerEnvSet, events.AgentKeyIssued,
		events.AgentKeyRevoked, events.SecretAccessed, events.CompanyFrozen, events.CompanyUnfrozen, events.ConsumerFrozen,
		events.ConsumerUnfrozen, events.VaultCreated, events.VaultUpdated, events.VaultDefaultSet, events.VaultDisabled,
		events.VaultHealthChecked, events.ExternalPolicySet, events.ExternalReferenceRefused, events.EventSubscriberIssued,
		events.EventSubscriberRevoked, events.LeakScanRecorded, events.SecretExposureReported},
}

func actorOf(e eventstore.Event) string { return e.Metadata.ActorType + ":" + e.Metadata.ActorID }

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Translate implements eventstore.Projector: the unique name and key of live secrets
// become the conflicts clients see.
func (Secrets) Translate(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return err
	}
	switch pgErr.ConstraintName {
	case "company_secrets_live_name":
		return ledgererr.New(ledgererr.Conflict, "a secret with this name already exists in the company")
	case "company_secrets_live_key":
		return ledgererr.New(ledgererr.Conflict, "a secret with this key already exists in the company")
	}
	return err
}

// createdRun gathers consecutive secret.created events.
type createdRun struct {
	ids, companies, keys, names, descriptions, providers, modes, actors []string
	externalRefs, versionRefs, fingerprints, vaults                     []*string
	at                                                                  []time.Time
	positions                                                           []int64
}

func (r *createdRun) add(e eventstore.Event, p *events.SecretCreatedV1) {
	r.ids = append(r.ids, p.SecretID)
	r.companies = append(r.companies, e.CompanyID)
	r.keys = append(r.keys, p.Key)
	r.names = append(r.names, p.Name)
	r.descriptions = append(r.descriptions, p.Description)
	r.providers = append(r.providers, p.Provider)
	r.modes = append(r.modes, p.ManagedMode)
	r.actors = append(r.actors, actorOf(e))
	r.externalRefs = append(r.externalRefs, nullIfEmpty(p.ExternalRef))
	r.versionRefs = append(r.versionRefs, nullIfEmpty(p.ProviderVersionRef))
	r.fingerprints = append(r.fingerprints, nullIfEmpty(p.Fingerprint))
	r.vaults = append(r.vaults, nullIfEmpty(p.ProviderConfigID))
	r.at = append(r.at, e.RecordedAt)
	r.positions = append(r.positions, e.Position)
}

func (r *createdRun) flush(b *pgx.Batch) {
	if len(r.ids) == 0 {
		return
	}
	b.Queue(`INSERT INTO company_secrets (id, company_id, key, name, description, provider, status, managed_mode,
			external_ref, latest_version, created_by, created_at, updated_at, position, provider_config_id)
		SELECT id, company, key, name, description, provider, 'active', mode, ext, 1, actor, at, at, pos, vault
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::timestamptz[], $11::bigint[], $12::text[])
			AS t(id, company, key, name, description, provider, mode, ext, actor, at, pos, vault)`,
		r.ids, r.companies, r.keys, r.names, r.descriptions, r.providers, r.modes, r.externalRefs, r.actors, r.at, r.positions,
		r.vaults)
	b.Queue(`INSERT INTO company_secret_versions (secret_id, version, company_id, status, provider_version_ref,
			external_ref, fingerprint, created_by, created_at)
		SELECT id, 1, company, 'current', ref, ext, fp, actor, at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
			AS t(id, company, ref, ext, fp, actor, at)`,
		r.ids, r.companies, r.versionRefs, r.externalRefs, r.fingerprints, r.actors, r.at)
	*r = createdRun{}
}

// versionRun gathers consecutive secret.version_added events: every version is stored
// current, and each secret's latest_version becomes its last version in the run (queries
// show a current version below latest_version as previous).
type versionRun struct {
	ids, companies, actors                  []string
	versions                                []int32
	versionRefs, externalRefs, fingerprints []*string
	at                                      []time.Time
	positions                               []int64
}

func (r *versionRun) add(e eventstore.Event, p *events.SecretVersionAddedV1) {
	r.ids = append(r.ids, p.SecretID)
	r.companies = append(r.companies, e.CompanyID)
	r.actors = append(r.actors, actorOf(e))
	r.versions = append(r.versions, int32(p.Version))
	r.versionRefs = append(r.versionRefs, nullIfEmpty(p.ProviderVersionRef))
	r.externalRefs = append(r.externalRefs, nullIfEmpty(p.ExternalRef))
	r.fingerprints = append(r.fingerprints, nullIfEmpty(p.Fingerprint))
	r.at = append(r.at, e.RecordedAt)
	r.positions = append(r.positions, e.Position)
}

func (r *versionRun) flush(b *pgx.Batch) {
	if len(r.ids) == 0 {
		return
	}
	last := map[string]int{} // secret → index of its last event in the run
	for i, id := range r.ids {
		last[id] = i
	}
	var touched []string
	var lastVersions []int32
	var lastExt []*string
	var lastAt []time.Time
	var lastPos []int64
	for i, id := range r.ids {
		if last[id] == i {
			touched = append(touched, id)
			lastVersions = append(lastVersions, r.versions[i])
			lastAt = append(lastAt, r.at[i])
			lastPos = append(lastPos, r.positions[i])
		}
	}
	// The latest external ref of each secret in the run (rotations of external
	// references carry one; managed ones none).
	extOf := map[string]*string{}
	for i, id := range r.ids {
		if r.externalRefs[i] != nil {
			extOf[id] = r.externalRefs[i]
		}
	}
	for _, id := range touched {
		lastExt = append(lastExt, extOf[id])
	}
	// Versions are stored current; one stops being current when a later one is, which
	// queries derive from company_secrets.latest_version rather than have every rotation
	// update its secret's previous row here.
	b.Queue(`INSERT INTO company_secret_versions (secret_id, version, company_id, status, provider_version_ref,
			external_ref, fingerprint, created_by, created_at)
		SELECT id, version, company, 'current', ref, ext, fp, actor, at
		FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
			AS t(id, version, company, ref, ext, fp, actor, at)`,
		r.ids, r.versions, r.companies, r.versionRefs, r.externalRefs, r.fingerprints, r.actors, r.at)
	b.Queue(`UPDATE company_secrets s SET latest_version = v.version, external_ref = coalesce(v.ext, s.external_ref),
			updated_at = v.at, position = v.pos
		FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::bigint[]) AS v(id, version, ext, at, pos)
		WHERE s.id = v.id`, touched, lastVersions, lastExt, lastAt, lastPos)
	*r = versionRun{}
}
