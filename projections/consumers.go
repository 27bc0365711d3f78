package projections

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// ConsumersName is the checkpoint name of the bindings, envs, agent keys and access
// read models.
// WARNING: persisted in projection_checkpoints.
const ConsumersName = "consumers"

// Consumers projects binding.*, consumer.env_set, agent_key.*, event_subscriber.* and
// secret.accessed.
type Consumers struct{}

// Name implements Projection.
func (Consumers) Name() string { return ConsumersName }

// Tables implements Projection.
func (Consumers) Tables() []string {
	return []string{"company_secret_bindings", "consumer_envs", "agent_keys", "secret_access_events", "event_subscribers"}
}

// Queue implements eventstore.Projector.
func (c Consumers) Queue(b *pgx.Batch, evs []eventstore.Event) error { return queueDecoding(c, b, evs) }

func (Consumers) queue(b *pgx.Batch, evs []eventstore.Event, payloads []any) error {
	cb := &consumersBatch{b: b}
	for i, e := range evs {
		if err := consumersTable.Apply(cb, e, payloads[i]); err != nil {
			return err
		}
	}
	cb.acc.queue(b)
	return nil
}

// Reader implements Projection.
func (Consumers) Reader() events.Reader { return consumersTable.Reader() }

// consumersBatch is one batch of the consumers projection: statements queued as their
// events come, but access records (the most frequent event) gathered and written in
// bulk after them.
type consumersBatch struct {
	b   *pgx.Batch
	acc accessRows
}

// Translate implements eventstore.Projector.
func (Consumers) Translate(err error) error {
	var pgErr *pgconn.PgError
	// Only a unique violation is a conflict: an index can refuse a row for other
	// reasons (a key too large, say), and those are not "already bound".
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "company_secret_bindings_consumer_path" {
		return ledgererr.New(ledgererr.Conflict, "the consumer already has a binding at this config path")
	}
	return err
}

// consumersTable is what the consumers projection does with each event type.
var consumersTable = events.Dispatch[*consumersBatch]{
	Name: "projections: " + ConsumersName,
	Handle: map[string]events.Handler[*consumersBatch]{
		events.BindingCreated: events.On(func(cb *consumersBatch, e eventstore.Event, p *events.BindingCreatedV1) {
			cb.b.Queue(`INSERT INTO company_secret_bindings (id, company_id, secret_id, target_type, target_id, config_path,
					version_selector, required, label, created_by, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
				p.BindingID, e.CompanyID, p.SecretID, p.TargetType, p.TargetID, p.ConfigPath, p.VersionSelector, p.Required,
				p.Label, actorOf(e), e.RecordedAt)
		}),
		events.BindingRemoved: events.On(func(cb *consumersBatch, _ eventstore.Event, p *events.BindingRemovedV1) {
			cb.b.Queue(`DELETE FROM company_secret_bindings WHERE id = $1`, p.BindingID)
		}),
		events.ConsumerEnvSet: events.OnErr(func(cb *consumersBatch, e eventstore.Event, p *events.ConsumerEnvSetV1) error {
			env, err := json.Marshal(p.Env)
			if err != nil {
				return err
			}
			cb.b.Queue(`INSERT INTO consumer_envs (company_id, target_type, target_id, env, updated_at, position)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (company_id, target_type, target_id) DO UPDATE
				SET env = excluded.env, updated_at = excluded.updated_at, position = excluded.position`,
				e.CompanyID, p.TargetType, p.TargetID, env, e.RecordedAt, e.Position)
			return nil
		}),
		events.AgentKeyIssued: events.OnErr(func(cb *consumersBatch, e eventstore.Event, p *events.AgentKeyIssuedV2) error {
			// The hash as recorded: keyed, or bare for a key issued before hashes were keyed.
			// The table is an index to the key's stream, which decides (see commands).
			recorded := p.TokenKeyedHash
			if recorded == "" {
				recorded = p.UnkeyedTokenHash
			}
			hash, err := hex.DecodeString(recorded)
			if err != nil {
				return fmt.Errorf("projections: agent key %s: token hash: %w", p.KeyID, err)
			}
			cb.b.Queue(`INSERT INTO agent_keys (id, company_id, target_type, target_id, label, token_hash, created_by, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				p.KeyID, e.CompanyID, p.TargetType, p.TargetID, p.Label, hash, actorOf(e), e.RecordedAt)
			return nil
		}),
		events.AgentKeyRevoked: events.On(func(cb *consumersBatch, e eventstore.Event, p *events.AgentKeyRevokedV1) {
			cb.b.Queue(`UPDATE agent_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, p.KeyID, e.RecordedAt)
		}),
		events.EventSubscriberIssued: events.On(func(cb *consumersBatch, e eventstore.Event, p *events.EventSubscriberIssuedV1) {
			cb.b.Queue(`INSERT INTO event_subscribers (id, company_id, label, password_hash, created_by, created_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, p.SubscriberID, e.CompanyID, p.Label, p.PasswordHash, actorOf(e), e.RecordedAt)
		}),
		events.EventSubscriberRevoked: events.On(func(cb *consumersBatch, e eventstore.Event, p *events.EventSubscriberRevokedV1) {
			cb.b.Queue(`UPDATE event_subscribers SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, p.SubscriberID, e.RecordedAt)
		}),
		events.SecretAccessed: events.On(func(cb *consumersBatch, e eventstore.Event, p *events.SecretAccessedV1) {
			cb.acc.add(e, p)
		}),
	},
	// Freezes are read from the log itself (queries), not from a read model.
	Ignore: []string{events.SecretCreated, events.SecretVersionAdded, events.SecretUpdated, events.SecretDeleted,
		events.SecretRestored, events.SecretPurged, events.CompanyFrozen, events.CompanyUnfrozen, events.ConsumerFrozen,
		events.ConsumerUnfrozen, events.VaultCreated, events.VaultUpdated, events.VaultDefaultSet, events.VaultDisabled,
		events.VaultHealthChecked, events.ExternalPolicySet, events.ExternalReferenceRefused, events.LeakScanRecorded,
		events.SecretExposureReported},
}

// accessRows gathers secret.accessed events as column arrays: one INSERT for all of
// them, and one UPDATE of last_resolved_at per secret rather than per access.
type accessRows struct {
	ids, companies, secrets, actorTypes, actorIDs, consumers, paths, outcomes []string
	runs, issues, codes, sources                                              []*string
	versions                                                                  []*int32
	positions                                                                 []int64
	at                                                                        []time.Time
	resolved                                                                  map[string]time.Time
}

func (a *accessRows) add(e eventstore.Event, p *events.SecretAccessedV1) {
	outcome, code := events.OutcomeFailed, &p.Outcome
	if p.Outcome == events.OutcomeResolved {
		outcome, code = events.OutcomeResolved, nil
		if a.resolved == nil {
			a.resolved = map[string]time.Time{}
		}
		if e.RecordedAt.After(a.resolved[p.SecretID]) {
			a.resolved[p.SecretID] = e.RecordedAt
		}
	}
	var version *int32
	if p.Version > 0 {
		v := int32(p.Version)
		version = &v
	}
	a.ids = append(a.ids, e.EventID.String())
	a.positions = append(a.positions, e.Position)
	a.companies = append(a.companies, e.CompanyID)
	a.secrets = append(a.secrets, p.SecretID)
	a.versions = append(a.versions, version)
	a.actorTypes = append(a.actorTypes, e.Metadata.ActorType)
	a.actorIDs = append(a.actorIDs, e.Metadata.ActorID)
	a.consumers = append(a.consumers, p.TargetType+"/"+p.TargetID)
	a.paths = append(a.paths, p.Paths())
	a.runs = append(a.runs, nullIfEmpty(p.RunID))
	a.issues = append(a.issues, nullIfEmpty(p.IssueID))
	a.outcomes = append(a.outcomes, outcome)
	a.codes = append(a.codes, code)
	a.sources = append(a.sources, nullIfEmpty(p.Source))
	a.at = append(a.at, e.RecordedAt)
}

func (a *accessRows) queue(b *pgx.Batch) {
	if len(a.ids) == 0 {
		return
	}
	b.Queue(`INSERT INTO secret_access_events (event_id, position, company_id, secret_id, version, actor_type, actor_id,
			consumer, config_path, run_id, issue_id, outcome, error_code, recorded_at, source)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::text[])`,
		a.ids, a.positions, a.companies, a.secrets, a.versions, a.actorTypes, a.actorIDs, a.consumers, a.paths,
		a.runs, a.issues, a.outcomes, a.codes, a.at, a.sources)
	if len(a.resolved) == 0 {
		return
	}
	// In id order, so that two resolutions of the same secrets lock their rows in one
	// order; and at most once a second per secret (lastResolvedAt is to the second), so
	// that concurrent resolutions of one secret do not all wait on its row: a row that
	// does not match is not locked.
	ids := slices.Sorted(maps.Keys(a.resolved))
	ats := make([]time.Time, len(ids))
	for i, id := range ids {
		ats[i] = a.resolved[id]
	}
	b.Queue(`UPDATE company_secrets s SET last_resolved_at = v.at FROM unnest($1::text[], $2::timestamptz[]) AS v(id, at)
		WHERE s.id = v.id AND (s.last_resolved_at IS NULL OR s.last_resolved_at < v.at - interval '1 second')`, ids, ats)
}
