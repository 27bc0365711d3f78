package queries

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Binding is a row of company_secret_bindings.
type Binding struct {
	ID              string
	CompanyID       string
	SecretID        string
	TargetType      string
	TargetID        string
	ConfigPath      string
	VersionSelector string
	Required        bool
	Label           string
	CreatedBy       string
	CreatedAt       time.Time
}

// AccessEvent is a row of secret_access_events.
type AccessEvent struct {
	EventID    string
	Position   int64
	SecretID   string
	Version    *int
	ActorType  string
	ActorID    string
	Consumer   string
	ConfigPath string
	RunID      *string
	IssueID    *string
	Outcome    string
	ErrorCode  *string
	RecordedAt time.Time
}

// Consumers reads bindings, envs, agent keys and access events.
type Consumers struct {
	DB      *pgxpool.Pool
	Secrets Secrets
	Values  ValueReader
}

const bindingColumns = `id, company_id, secret_id, target_type, target_id, config_path, version_selector, required, label, created_by, created_at`

func scanBinding(row pgx.CollectableRow) (Binding, error) {
	var b Binding
	err := row.Scan(&b.ID, &b.CompanyID, &b.SecretID, &b.TargetType, &b.TargetID, &b.ConfigPath, &b.VersionSelector,
		&b.Required, &b.Label, &b.CreatedBy, &b.CreatedAt)
	return b, err
}

func collect[T any](rows pgx.Rows, err error, scan pgx.RowToFunc[T]) ([]T, error) {
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// Bindings lists a company's bindings, optionally of one consumer.
func (q Consumers) Bindings(ctx context.Context, a actor.Actor, companyID, targetType, targetID string) ([]Binding, error) {
	if !a.CanAccess(companyID) {
		return nil, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	rows, err := q.DB.Query(ctx, `SELECT `+bindingColumns+` FROM company_secret_bindings
		WHERE company_id = $1 AND ($2 = '' OR target_type = $2) AND ($3 = '' OR target_id = $3)
		ORDER BY target_type, target_id, config_path`, companyID, targetType, targetID)
	return collect(rows, err, scanBinding)
}

// Usage lists the bindings of one secret.
func (q Consumers) Usage(ctx context.Context, a actor.Actor, secretID string) ([]Binding, error) {
	if _, err := q.Secrets.Get(ctx, a, secretID); err != nil {
		return nil, err
	}
	rows, err := q.DB.Query(ctx, `SELECT `+bindingColumns+` FROM company_secret_bindings WHERE secret_id = $1
		ORDER BY target_type, target_id, config_path`, secretID)
	return collect(rows, err, scanBinding)
}

// MaxAccessPage bounds one page of access events.
const MaxAccessPage = 500

// AccessEvents pages through a secret's access events, newest first: pass the last
// position of a page as before to get the next. A deleted secret's history stays
// readable (deleting a secret never deletes its access history).
func (q Consumers) AccessEvents(ctx context.Context, a actor.Actor, secretID string, before int64, limit int) ([]AccessEvent, error) {
	var company string
	err := q.DB.QueryRow(ctx, `SELECT company_id FROM company_secrets WHERE id = $1`, secretID).Scan(&company)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !a.CanAccess(company)) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return q.accessEvents(ctx, `secret_id = $1`, secretID, before, limit)
}

// CompanyAccessEvents pages through every access attempt of a company, including
// attempts on config paths with no binding (no secret).
func (q Consumers) CompanyAccessEvents(ctx context.Context, a actor.Actor, companyID string, before int64, limit int) ([]AccessEvent, error) {
	if !a.CanAccess(companyID) {
		return nil, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	return q.accessEvents(ctx, `company_id = $1`, companyID, before, limit)
}

func (q Consumers) accessEvents(ctx context.Context, where, arg string, before int64, limit int) ([]AccessEvent, error) {
	if limit < 1 || limit > MaxAccessPage {
		limit = 100
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := q.DB.Query(ctx, `SELECT event_id, position, secret_id, version, actor_type, actor_id, consumer, config_path,
		run_id, issue_id, outcome, error_code, recorded_at FROM secret_access_events
		WHERE `+where+` AND position < $2 ORDER BY position DESC LIMIT $3`, arg, before, limit)
	return collect(rows, err, func(row pgx.CollectableRow) (AccessEvent, error) {
		var e AccessEvent
		err := row.Scan(&e.EventID, &e.Position, &e.SecretID, &e.Version, &e.ActorType, &e.ActorID, &e.Consumer,
			&e.ConfigPath, &e.RunID, &e.IssueID, &e.Outcome, &e.ErrorCode, &e.RecordedAt)
		return e, err
	})
}

// Env returns a consumer's env entries (no values), empty when it has none.
func (q Consumers) Env(ctx context.Context, a actor.Actor, c events.Consumer) (map[string]events.EnvEntryV1, error) {
	if !a.CanAccess(c.CompanyID) {
		return nil, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	var raw []byte
	err := q.DB.QueryRow(ctx, `SELECT env FROM consumer_envs WHERE company_id = $1 AND target_type = $2 AND target_id = $3`,
		c.CompanyID, c.TargetType, c.TargetID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return map[string]events.EnvEntryV1{}, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	env := map[string]events.EnvEntryV1{}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, ledgererr.Wrap(err, ledgererr.Internal, "consumer env read model is malformed")
	}
	return env, nil
}

// ValueReader decrypts stored values (the local_encrypted provider).
type ValueReader interface {
	Resolve(ctx context.Context, ref providers.Ref, providerVersionRef string) (providers.Value, error)
}

// EnvEntry is one key of a consumer env as the API shows it: plain values of sensitive
// keys are always RedactedMarker.
type EnvEntry struct {
	Type     string
	Value    *string
	SecretID string
	Version  string
}

// RedactedMarker replaces the plain values of sensitive keys.
const RedactedMarker = "***REDACTED***"

// EnvView returns a consumer's env for display: plain values in clear unless the key is
// sensitive (IsSensitive), secret references as references.
func (q Consumers) EnvView(ctx context.Context, a actor.Actor, c events.Consumer, isSensitive func(string) bool) (map[string]EnvEntry, error) {
	env, err := q.Env(ctx, a, c)
	if err != nil {
		return nil, err
	}
	out := make(map[string]EnvEntry, len(env))
	for k, e := range env {
		entry := EnvEntry{Type: e.Type, SecretID: e.SecretID, Version: e.Version}
		if e.Type == "plain" {
			value := RedactedMarker
			switch {
			case isSensitive(k):
			case e.Empty:
				value = ""
			default:
				v, err := q.Values.Resolve(ctx, providers.Ref{CompanyID: c.CompanyID, SecretID: c.EnvSecretID()}, e.ProviderVersionRef)
				if err != nil {
					return nil, err
				}
				value = string(v.Reveal())
			}
			entry.Value = &value
		}
		out[k] = entry
	}
	return out, nil
}

// AuthenticateAgent returns the actor of a live agent key.
func (q Consumers) AuthenticateAgent(ctx context.Context, token string) (actor.Actor, error) {
	a := actor.Actor{Type: actor.Agent}
	var company string
	hash := actor.HashToken(token)
	err := q.DB.QueryRow(ctx, `SELECT id, company_id, target_type, target_id FROM agent_keys
		WHERE token_hash = decode($1, 'hex') AND revoked_at IS NULL`, hash).Scan(&a.ID, &company, &a.TargetType, &a.TargetID)
	if errors.Is(err, pgx.ErrNoRows) {
		return actor.Actor{}, ledgererr.New(ledgererr.Unauthorized, "the agent key is unknown or revoked")
	}
	if err != nil {
		return actor.Actor{}, ledgererr.Wrap(err, ledgererr.Unavailable, "cannot check the agent key now")
	}
	a.Companies = []string{company}
	return a, nil
}

// BindingConsumer implements the commands' Directory.
func (q Consumers) BindingConsumer(ctx context.Context, bindingID string) (events.Consumer, error) {
	var c events.Consumer
	err := q.DB.QueryRow(ctx, `SELECT company_id, target_type, target_id FROM company_secret_bindings WHERE id = $1`, bindingID).
		Scan(&c.CompanyID, &c.TargetType, &c.TargetID)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ledgererr.New(ledgererr.NotFound, "binding not found")
	}
	if err != nil {
		return c, unavailable(err)
	}
	return c, nil
}

// ConsumersWithEnv implements the commands' Directory.
func (q Consumers) ConsumersWithEnv(ctx context.Context, companyID string) ([]events.Consumer, error) {
	rows, err := q.DB.Query(ctx, `SELECT company_id, target_type, target_id FROM consumer_envs WHERE company_id = $1
		ORDER BY target_type, target_id`, companyID)
	return collect(rows, err, func(row pgx.CollectableRow) (events.Consumer, error) {
		var c events.Consumer
		err := row.Scan(&c.CompanyID, &c.TargetType, &c.TargetID)
		return c, err
	})
}

// LiveSecretByName implements the commands' Directory.
func (q Consumers) LiveSecretByName(ctx context.Context, companyID, name string) (string, error) {
	var id string
	err := q.DB.QueryRow(ctx, `SELECT id FROM company_secrets WHERE company_id = $1 AND name = $2 AND deleted_at IS NULL`,
		companyID, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errNotFound
	}
	if err != nil {
		return "", unavailable(err)
	}
	return id, nil
}
