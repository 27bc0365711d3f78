package audit

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// AsOf picks the cut of a state query: the events recorded at or before At, or the
// events up to Position. Exactly one is set.
type AsOf struct {
	At       time.Time
	Position int64
}

// State is a company as it was at a cut of the log.
type State struct {
	CompanyID string
	AsOf      AsOf
	// Position is the last log position the answer includes (the requested position,
	// or the last one recorded at or before the requested time, bounded by the head).
	Position  int64
	Secrets   []SecretState
	Bindings  []BindingSpan
	Envs      []EnvState
	AgentKeys []AgentKey
	Vaults    []VaultState
	// ExternalPolicy is the company's external-reference policy at the cut; nil when
	// none was set by then.
	ExternalPolicy *ExternalPolicyState
}

// ExternalPolicyState is the external-reference policy at the cut: its last set.
type ExternalPolicyState struct {
	Prefixes, References, Regions, Namespaces []string
	SetAt                                     time.Time
	SetBy                                     string
}

// SecretState is one secret at the cut.
type SecretState struct {
	ID, Name, Key, Provider, Status string
	CurrentVersion                  int
	CreatedAt                       time.Time
	// ChangedAt is when the status last changed.
	ChangedAt time.Time
}

// EnvState is one consumer's env at the cut: keys and types, never values.
type EnvState struct {
	TargetType, TargetID string
	SetAt                time.Time
	Keys                 []EnvKey
}

// VaultState is one provider vault at the cut.
type VaultState struct {
	ID, Provider, DisplayName, Status string
	Default                           bool
	CreatedAt                         time.Time
}

// State folds company's secrets, bindings, envs, agent keys and vaults up to the cut.
// Only the events that change them are read: access records change nothing, and
// rotations are read as the last one per secret.
func (l Log) State(ctx context.Context, a actor.Actor, company string, as AsOf) (State, error) {
	if (as.At.IsZero()) == (as.Position == 0) {
		return State{}, ledgererr.New(ledgererr.BadRequest, "give either at (a time) or position")
	}
	if as.Position < 0 {
		return State{}, ledgererr.New(ledgererr.BadRequest, "position must be positive")
	}
	if err := requireBoard(a, company); err != nil {
		return State{}, err
	}
	head, err := l.head(ctx)
	if err != nil {
		return State{}, err
	}
	cut := head
	if as.Position > 0 && as.Position < head {
		cut = as.Position
	}
	var at *time.Time
	if !as.At.IsZero() {
		at = &as.At
	}
	out := State{CompanyID: company, AsOf: as, Secrets: []SecretState{}, Bindings: []BindingSpan{}, Envs: []EnvState{},
		AgentKeys: []AgentKey{}, Vaults: []VaultState{}}

	// The rotations are aggregated by the database while this process folds the rest.
	rotations := make(chan lastRotations, 1)
	go func() { rotations <- l.lastRotations(ctx, company, cut, at) }()
	evs, err := l.readEvents(ctx, `WHERE company_id = $1 AND event_type NOT IN ('secret.accessed', 'secret.version_added', 'external_reference.refused')
		AND position <= $2 AND recorded_at <= coalesce($3::timestamptz, 'infinity') ORDER BY position`, company, cut, at)
	if err != nil {
		<-rotations
		return out, err
	}
	secrets := map[string]*secretHistory{}
	var secretOrder []string
	bindings := map[string]*BindingSpan{}
	var bindingOrder []string
	envs := map[consumerKey]*EnvState{}
	keys := map[string]*AgentKey{}
	var keyOrder []string
	vaults := map[string]*VaultState{}
	var vaultOrder []string
	for _, e := range evs {
		out.Position = max(out.Position, e.Position)
		if strings.HasPrefix(e.StreamID, "secret-") {
			id := strings.TrimPrefix(e.StreamID, "secret-")
			h := secrets[id]
			if h == nil {
				h = &secretHistory{id: id}
				secrets[id] = h
				secretOrder = append(secretOrder, id)
			}
			if err := h.apply(e); err != nil {
				return out, err
			}
			continue
		}
		p, err := events.Decode(e)
		if err != nil {
			return out, err
		}
		switch p := p.(type) {
		case *events.BindingCreatedV1:
			bindings[p.BindingID] = &BindingSpan{BindingID: p.BindingID, SecretID: p.SecretID, TargetType: p.TargetType,
				TargetID: p.TargetID, ConfigPath: p.ConfigPath, VersionSelector: p.VersionSelector, CreatedAt: e.RecordedAt,
				CreatedPosition: e.Position, CreatedBy: actorOf(e.Metadata)}
			bindingOrder = append(bindingOrder, p.BindingID)
		case *events.BindingRemovedV1:
			delete(bindings, p.BindingID)
		case *events.ConsumerEnvSetV1:
			envs[consumerKey{p.TargetType, p.TargetID}] = &EnvState{TargetType: p.TargetType, TargetID: p.TargetID,
				SetAt: e.RecordedAt, Keys: envKeys(p.Env)}
		case *events.AgentKeyIssuedV2:
			keys[p.KeyID] = &AgentKey{KeyID: p.KeyID, TargetType: p.TargetType, TargetID: p.TargetID, Label: p.Label,
				IssuedAt: e.RecordedAt, IssuedBy: actorOf(e.Metadata), ActiveInWindow: true}
			keyOrder = append(keyOrder, p.KeyID)
		case *events.AgentKeyRevokedV1:
			if k := keys[p.KeyID]; k != nil && k.RevokedAt == nil {
				t := e.RecordedAt
				k.RevokedAt, k.RevokedBy, k.ActiveInWindow = &t, actorOf(e.Metadata), false
			}
		case *events.VaultCreatedV1:
			vaults[p.VaultID] = &VaultState{ID: p.VaultID, Provider: p.Provider, DisplayName: p.DisplayName, Status: p.Status,
				CreatedAt: e.RecordedAt}
			vaultOrder = append(vaultOrder, p.VaultID)
		case *events.VaultUpdatedV1:
			if v := vaults[p.VaultID]; v != nil {
				if p.DisplayName != nil {
					v.DisplayName = *p.DisplayName
				}
				if p.Config != nil && v.Status == "warning" {
					v.Status = "ready"
				}
			}
		case *events.VaultDefaultSetV1:
			for _, v := range vaults {
				if v.Provider == p.Provider {
					v.Default = v.ID == p.VaultID
				}
			}
		case *events.VaultDisabledV1:
			if v := vaults[p.VaultID]; v != nil {
				v.Status, v.Default = "disabled", false
			}
		case *events.VaultHealthCheckedV1:
			if v := vaults[p.VaultID]; v != nil {
				v.Status = p.Status
			}
		case *events.ExternalPolicySetV1:
			out.ExternalPolicy = &ExternalPolicyState{Prefixes: p.Prefixes, References: p.References, Regions: p.Regions,
				Namespaces: p.Namespaces, SetAt: e.RecordedAt, SetBy: actorOf(e.Metadata)}
		}
	}

	rot := <-rotations
	if rot.err != nil {
		return out, rot.err
	}
	current := rot.current
	out.Position = max(out.Position, rot.position)

	for _, id := range secretOrder {
		h := secrets[id]
		if h.company == "" { // a stream whose secret.created is past the cut
			continue
		}
		s := SecretState{ID: id, Name: h.name, Key: h.key, Provider: h.provider, Status: h.currentStatus(), CurrentVersion: 1,
			CreatedAt: h.createdAt}
		if n := len(h.status); n > 0 {
			s.ChangedAt = h.status[n-1].At
		}
		if v, ok := current[id]; ok {
			s.CurrentVersion = v
		}
		out.Secrets = append(out.Secrets, s)
	}
	for _, id := range bindingOrder {
		if b := bindings[id]; b != nil {
			out.Bindings = append(out.Bindings, *b)
		}
	}
	for _, e := range envs {
		out.Envs = append(out.Envs, *e)
	}
	sort.Slice(out.Envs, func(i, j int) bool {
		if out.Envs[i].TargetType != out.Envs[j].TargetType {
			return out.Envs[i].TargetType < out.Envs[j].TargetType
		}
		return out.Envs[i].TargetID < out.Envs[j].TargetID
	})
	for _, id := range keyOrder {
		out.AgentKeys = append(out.AgentKeys, *keys[id])
	}
	for _, id := range vaultOrder {
		out.Vaults = append(out.Vaults, *vaults[id])
	}
	if as.Position > 0 {
		out.Position = cut
	}
	return out, nil
}

// lastRotations is the current version of each rotated secret at a cut.
type lastRotations struct {
	current  map[string]int
	position int64
	err      error
}

// lastRotations finds each secret's last rotation at the cut from the rotation index
// alone, then reads only those events' payloads.
func (l Log) lastRotations(ctx context.Context, company string, cut int64, at *time.Time) lastRotations {
	res := lastRotations{current: map[string]int{}}
	rows, err := l.DB.Query(ctx, `SELECT e.stream_id, (e.payload ->> 'version')::int, e.position
		FROM (SELECT max(position) AS position FROM ledger_events
			WHERE company_id = $1 AND event_type = 'secret.version_added' AND position <= $2
			AND recorded_at <= coalesce($3::timestamptz, 'infinity') GROUP BY stream_id) last
		JOIN ledger_events e ON e.position = last.position`, company, cut, at)
	if err != nil {
		res.err = dbError(err)
		return res
	}
	var stream string
	var version int
	var pos int64
	_, err = pgx.ForEachRow(rows, []any{&stream, &version, &pos}, func() error {
		res.current[strings.TrimPrefix(stream, "secret-")] = version
		res.position = max(res.position, pos)
		return nil
	})
	res.err = dbError(err)
	return res
}
