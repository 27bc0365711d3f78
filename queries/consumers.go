package queries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// Source is "inline" for a plain env value, nil for a secret.
	Source *string
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

// Bindings returns a page of a company's bindings, optionally of one consumer, by
// consumer and config path.
func (q Consumers) Bindings(ctx context.Context, a actor.Actor, companyID, targetType, targetID string, p PageRequest) (Page[Binding], error) {
	if !a.CanAccess(companyID) {
		return Page[Binding]{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	return q.bindingPage(ctx, `company_id = $1 AND ($2 = '' OR target_type = $2) AND ($3 = '' OR target_id = $3)`,
		[]any{companyID, targetType, targetID}, p)
}

// Binding returns one binding the actor may see.
func (q Consumers) Binding(ctx context.Context, a actor.Actor, id string) (Binding, error) {
	rows, err := q.DB.Query(ctx, `SELECT `+bindingColumns+` FROM company_secret_bindings WHERE id = $1`, id)
	list, err := collect(rows, err, scanBinding)
	if err != nil {
		return Binding{}, err
	}
	if len(list) == 0 || !a.CanAccess(list[0].CompanyID) {
		return Binding{}, ledgererr.New(ledgererr.NotFound, "binding not found")
	}
	return list[0], nil
}

// Usage returns a page of the bindings of one secret.
func (q Consumers) Usage(ctx context.Context, a actor.Actor, secretID string, p PageRequest) (Page[Binding], error) {
	if _, err := q.Secrets.Get(ctx, a, secretID); err != nil {
		return Page[Binding]{}, err
	}
	return q.bindingPage(ctx, `secret_id = $1`, []any{secretID}, p)
}

func (q Consumers) bindingPage(ctx context.Context, where string, args []any, p PageRequest) (Page[Binding], error) {
	var after [3]string
	if _, err := p.decodeCursor(&after[0], &after[1], &after[2]); err != nil {
		return Page[Binding]{}, err
	}
	n := len(args)
	args = append(args, after[0], after[1], after[2], p.size()+1)
	rows, err := q.DB.Query(ctx, `SELECT `+bindingColumns+` FROM company_secret_bindings WHERE `+where+
		fmt.Sprintf(` AND (target_type, target_id, config_path) > ($%d, $%d, $%d)
		ORDER BY target_type, target_id, config_path LIMIT $%d`, n+1, n+2, n+3, n+4), args...)
	list, err := collect(rows, err, scanBinding)
	if err != nil {
		return Page[Binding]{}, err
	}
	return pageOf(p, list, func(b Binding) []any { return []any{b.TargetType, b.TargetID, b.ConfigPath} }), nil
}

// AccessEvents returns a page of a secret's access events, newest first. A deleted
// secret's history stays readable (deleting a secret never deletes its access history).
func (q Consumers) AccessEvents(ctx context.Context, a actor.Actor, secretID string, p PageRequest) (Page[AccessEvent], error) {
	var company string
	err := q.DB.QueryRow(ctx, `SELECT company_id FROM company_secrets WHERE id = $1`, secretID).Scan(&company)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !a.CanAccess(company)) {
		return Page[AccessEvent]{}, errNotFound
	}
	if err != nil {
		return Page[AccessEvent]{}, unavailable(err)
	}
	return q.accessEvents(ctx, `secret_id = $1`, []any{secretID}, p)
}

// AccessFilter narrows a company's access events; zero fields match everything.
type AccessFilter struct {
	SecretID string
	Consumer string // targetType/targetId
	// Outcome is resolved, failed, or why an attempt failed (binding_missing, …).
	Outcome string
	// From and To bound the time recorded (both inclusive).
	From, To time.Time
}

// CompanyAccessEvents returns a page of the access attempts of a company that match f,
// newest first, including attempts on config paths with no binding (no secret). The
// filters are checked on the company's rows newest first (index on company, position),
// so a rare match in a long history reads much of that history.
func (q Consumers) CompanyAccessEvents(ctx context.Context, a actor.Actor, companyID string, f AccessFilter, p PageRequest) (Page[AccessEvent], error) {
	if !a.CanAccess(companyID) {
		return Page[AccessEvent]{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	where, args := `company_id = $1`, []any{companyID}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.SecretID != "" {
		add("secret_id = $%d", f.SecretID)
	}
	if f.Consumer != "" {
		add("consumer = $%d", f.Consumer)
	}
	switch f.Outcome {
	case "":
	case events.OutcomeResolved, events.OutcomeFailed:
		add("outcome = $%d", f.Outcome)
	default: // why an attempt failed
		add("error_code = $%d", f.Outcome)
	}
	if !f.From.IsZero() {
		add("recorded_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("recorded_at <= $%d", f.To)
	}
	return q.accessEvents(ctx, where, args, p)
}

func (q Consumers) accessEvents(ctx context.Context, where string, args []any, p PageRequest) (Page[AccessEvent], error) {
	before := int64(1<<63 - 1)
	if _, err := p.decodeCursor(&before); err != nil {
		return Page[AccessEvent]{}, err
	}
	n := len(args)
	rows, err := q.DB.Query(ctx, fmt.Sprintf(`SELECT event_id, position, secret_id, version, actor_type, actor_id, consumer, config_path,
		run_id, issue_id, outcome, error_code, recorded_at, source FROM secret_access_events
		WHERE `+where+` AND position < $%d ORDER BY position DESC LIMIT $%d`, n+1, n+2), append(args, before, p.size()+1)...)
	list, err := collect(rows, err, func(row pgx.CollectableRow) (AccessEvent, error) {
		var e AccessEvent
		err := row.Scan(&e.EventID, &e.Position, &e.SecretID, &e.Version, &e.ActorType, &e.ActorID, &e.Consumer,
			&e.ConfigPath, &e.RunID, &e.IssueID, &e.Outcome, &e.ErrorCode, &e.RecordedAt, &e.Source)
		return e, err
	})
	if err != nil {
		return Page[AccessEvent]{}, err
	}
	return pageOf(p, list, func(e AccessEvent) []any { return []any{e.Position} }), nil
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
// keys are always events.RedactedMarker.
type EnvEntry struct {
	Type     string
	Value    *string
	SecretID string
	Version  string
}

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
			value := events.RedactedMarker
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

// AgentKeyByHash implements the commands' Directory: the key (revoked or not) whose
// recorded token hash (hex) is keyedHash, else unkeyedHash.
func (q Consumers) AgentKeyByHash(ctx context.Context, keyedHash, unkeyedHash string) (string, bool, error) {
	var id string
	err := q.DB.QueryRow(ctx, `SELECT id FROM agent_keys WHERE token_hash IN (decode($1, 'hex'), decode($2, 'hex'))
		ORDER BY token_hash = decode($1, 'hex') DESC LIMIT 1`, keyedHash, unkeyedHash).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, unavailable(err)
	}
	return id, true, nil
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

// LiveAgentKeys implements the commands' Directory. (An incident command: agent_keys has
// no index by consumer, and a scan of it is cheap next to what the command does.)
func (q Consumers) LiveAgentKeys(ctx context.Context, c events.Consumer) ([]string, error) {
	rows, err := q.DB.Query(ctx, `SELECT id FROM agent_keys WHERE company_id = $1 AND target_type = $2 AND target_id = $3
		AND revoked_at IS NULL ORDER BY id`, c.CompanyID, c.TargetType, c.TargetID)
	return collect(rows, err, func(row pgx.CollectableRow) (string, error) {
		var id string
		err := row.Scan(&id)
		return id, err
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

// LiveSecret is a live secret as a remote import's conflict check sees it.
type LiveSecret struct {
	ID, Name, Key, ManagedMode, ExternalRef, VaultID string
}

// ImportCandidates returns the company's live secrets that a remote import could
// conflict with: those with one of names or keys, and every external reference in
// vaultID ("" for the deployment's instance).
func (q Consumers) ImportCandidates(ctx context.Context, companyID, vaultID string, names, keys []string) ([]LiveSecret, error) {
	rows, err := q.DB.Query(ctx, `SELECT id, name, key, managed_mode, coalesce(external_ref, ''), coalesce(provider_config_id, '')
		FROM company_secrets WHERE company_id = $1 AND deleted_at IS NULL
		  AND (name = ANY($2) OR key = ANY($3)
		    OR (managed_mode = 'external_reference' AND coalesce(provider_config_id, '') = $4))
		ORDER BY name, id`, companyID, names, keys, vaultID)
	return collect(rows, err, func(row pgx.CollectableRow) (LiveSecret, error) {
		var s LiveSecret
		err := row.Scan(&s.ID, &s.Name, &s.Key, &s.ManagedMode, &s.ExternalRef, &s.VaultID)
		return s, err
	})
}

// CompanySecretIDs returns the ids of every secret of the company that is not purged,
// deleted ones included, oldest first (ids are ULIDs).
func (q Consumers) CompanySecretIDs(ctx context.Context, companyID string) ([]string, error) {
	rows, err := q.DB.Query(ctx, `SELECT id FROM company_secrets WHERE company_id = $1 AND purged_at IS NULL ORDER BY id`,
		companyID)
	return collect(rows, err, func(row pgx.CollectableRow) (string, error) {
		var id string
		err := row.Scan(&id)
		return id, err
	})
}

// AgentKey is a row of agent_keys, without its token hash.
type AgentKey struct {
	ID, CompanyID, TargetType, TargetID, Label, CreatedBy string
	CreatedAt                                             time.Time
	RevokedAt                                             *time.Time
}

// AgentKeys returns a page of a company's agent keys, revoked ones included, oldest
// first (ids are ULIDs).
func (q Consumers) AgentKeys(ctx context.Context, a actor.Actor, companyID string, p PageRequest) (Page[AgentKey], error) {
	if !a.CanAccess(companyID) {
		return Page[AgentKey]{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	var after string
	if _, err := p.decodeCursor(&after); err != nil {
		return Page[AgentKey]{}, err
	}
	rows, err := q.DB.Query(ctx, `SELECT id, company_id, target_type, target_id, label, created_by, created_at, revoked_at
		FROM agent_keys WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3`, companyID, after, p.size()+1)
	list, err := collect(rows, err, func(row pgx.CollectableRow) (AgentKey, error) {
		var k AgentKey
		err := row.Scan(&k.ID, &k.CompanyID, &k.TargetType, &k.TargetID, &k.Label, &k.CreatedBy, &k.CreatedAt, &k.RevokedAt)
		return k, err
	})
	if err != nil {
		return Page[AgentKey]{}, err
	}
	return pageOf(p, list, func(k AgentKey) []any { return []any{k.ID} }), nil
}
