package audit

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore"
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

// DefaultMaxStateEntries bounds a State answer: secrets, bindings, envs, agent keys
// and vaults together. A company with more at the cut (or at any position before it,
// as the fold passes there) is refused (422) rather than held in memory and sent whole.
const DefaultMaxStateEntries = 50_000

// statePage is the number of events a State query reads at a time: the fold holds one
// page and the state, never the history.
const statePage = 2000

// State folds company's secrets, bindings, envs, agent keys and vaults up to the cut,
// reading the log a page at a time. Only the events that change them are read: access
// records change nothing, and rotations are read as the last one per secret.
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
	// The rotations are aggregated by the database while this process folds the rest.
	rotations := make(chan lastRotations, 1)
	go func() { rotations <- l.lastRotations(ctx, company, cut, at, l.maxStateEntries()) }()
	f := newStateFold(l.maxStateEntries())
	err = l.foldPages(ctx, company, cut, at, f)
	rot := <-rotations
	if err != nil {
		return State{}, err
	}
	if rot.err != nil {
		return State{}, rot.err
	}
	out := f.state(rot.current)
	out.CompanyID, out.AsOf = company, as
	out.Position = max(f.position, rot.position)
	if as.Position > 0 {
		out.Position = cut
	}
	return out, nil
}

func (l Log) maxStateEntries() int {
	if l.MaxStateEntries > 0 {
		return l.MaxStateEntries
	}
	return DefaultMaxStateEntries
}

// foldPages feeds f the company's state-changing events up to the cut, in position
// order, one page at a time.
func (l Log) foldPages(ctx context.Context, company string, cut int64, at *time.Time, f *stateFold) error {
	page := l.StatePage
	if page <= 0 {
		page = statePage
	}
	after := int64(0)
	for {
		evs, err := l.readEvents(ctx, `WHERE company_id = $1 AND event_type <> ALL($5)
			AND position > $2 AND position <= $3 AND recorded_at <= coalesce($4::timestamptz, 'infinity')
			ORDER BY position LIMIT `+itoa(page), company, after, cut, at, stateUnread)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := f.apply(e); err != nil {
				return err
			}
		}
		if len(evs) < page {
			return nil
		}
		after = evs[len(evs)-1].Position
	}
}

// stateFold is a State being folded from events: what exists at the position reached,
// without the history that led there.
type stateFold struct {
	max          int
	position     int64
	secrets      map[string]*secretHistory
	secretOrder  []string
	bindings     map[string]*BindingSpan
	bindingOrder []string
	envs         map[consumerKey]*EnvState
	keys         map[string]*AgentKey
	keyOrder     []string
	vaults       map[string]*VaultState
	vaultOrder   []string
	policy       *ExternalPolicyState
}

func newStateFold(maxEntries int) *stateFold {
	return &stateFold{max: maxEntries, secrets: map[string]*secretHistory{}, bindings: map[string]*BindingSpan{},
		envs: map[consumerKey]*EnvState{}, keys: map[string]*AgentKey{}, vaults: map[string]*VaultState{}}
}

// entries counts what the state holds; removed bindings leave it.
func (f *stateFold) entries() int {
	return len(f.secrets) + len(f.bindings) + len(f.envs) + len(f.keys) + len(f.vaults)
}

// stateUnread are the event types the state fold does not read (foldPages leaves them
// out in SQL, and the partial index ledger_events_company_state_idx without the two
// frequent ones): access records change nothing, rotations are aggregated per secret
// (lastRotations), and refused references leave no state.
var stateUnread = []string{events.SecretAccessed, events.SecretVersionAdded, events.ExternalReferenceRefused}

// apply folds one event.
func (f *stateFold) apply(e eventstore.Event) error {
	f.position = max(f.position, e.Position)
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	if err := stateTable.Apply(f, e, p); err != nil {
		return err
	}
	return f.checkSize()
}

// applySecret folds an event of a secret's stream, keeping only its last status.
func (f *stateFold) applySecret(e eventstore.Event, p any) error {
	id := strings.TrimPrefix(e.StreamID, events.SecretStreamPrefix)
	h := f.secrets[id]
	if h == nil {
		h = &secretHistory{id: id}
		f.secrets[id] = h
		f.secretOrder = append(f.secretOrder, id)
	}
	if err := secretHistoryFold.Apply(h, e, p); err != nil {
		return err
	}
	if n := len(h.status); n > 1 {
		h.status = append(h.status[:0], h.status[n-1])
	}
	return nil
}

// stateTable is what the state fold does with each event type of a company's log.
var stateTable = events.Dispatch[*stateFold]{
	Name: "queries/audit: stateFold",
	Handle: map[string]events.Handler[*stateFold]{
		events.SecretCreated:  (*stateFold).applySecret,
		events.SecretUpdated:  (*stateFold).applySecret,
		events.SecretDeleted:  (*stateFold).applySecret,
		events.SecretRestored: (*stateFold).applySecret,
		events.SecretPurged:   (*stateFold).applySecret,
		events.BindingCreated: events.On(func(f *stateFold, e eventstore.Event, p *events.BindingCreatedV1) {
			f.bindings[p.BindingID] = &BindingSpan{BindingID: p.BindingID, SecretID: p.SecretID, TargetType: p.TargetType,
				TargetID: p.TargetID, ConfigPath: p.ConfigPath, VersionSelector: p.VersionSelector, CreatedAt: e.RecordedAt,
				CreatedPosition: e.Position, CreatedBy: actorOf(e.Metadata)}
			f.bindingOrder = append(f.bindingOrder, p.BindingID)
		}),
		events.BindingRemoved: events.On(func(f *stateFold, _ eventstore.Event, p *events.BindingRemovedV1) {
			delete(f.bindings, p.BindingID)
			f.compactBindingOrder()
		}),
		events.ConsumerEnvSet: events.On(func(f *stateFold, e eventstore.Event, p *events.ConsumerEnvSetV1) {
			f.envs[consumerKey{p.TargetType, p.TargetID}] = &EnvState{TargetType: p.TargetType, TargetID: p.TargetID,
				SetAt: e.RecordedAt, Keys: envKeys(p.Env)}
		}),
		events.AgentKeyIssued: events.On(func(f *stateFold, e eventstore.Event, p *events.AgentKeyIssuedV2) {
			f.keys[p.KeyID] = &AgentKey{KeyID: p.KeyID, TargetType: p.TargetType, TargetID: p.TargetID, Label: p.Label,
				IssuedAt: e.RecordedAt, IssuedBy: actorOf(e.Metadata), ActiveInWindow: true}
			f.keyOrder = append(f.keyOrder, p.KeyID)
		}),
		events.AgentKeyRevoked: events.On(func(f *stateFold, e eventstore.Event, p *events.AgentKeyRevokedV1) {
			if k := f.keys[p.KeyID]; k != nil && k.RevokedAt == nil {
				t := e.RecordedAt
				k.RevokedAt, k.RevokedBy, k.ActiveInWindow = &t, actorOf(e.Metadata), false
			}
		}),
		events.VaultCreated: events.On(func(f *stateFold, e eventstore.Event, p *events.VaultCreatedV1) {
			f.vaults[p.VaultID] = &VaultState{ID: p.VaultID, Provider: p.Provider, DisplayName: p.DisplayName, Status: p.Status,
				CreatedAt: e.RecordedAt}
			f.vaultOrder = append(f.vaultOrder, p.VaultID)
		}),
		events.VaultUpdated: events.On(func(f *stateFold, _ eventstore.Event, p *events.VaultUpdatedV1) {
			if v := f.vaults[p.VaultID]; v != nil {
				if p.DisplayName != nil {
					v.DisplayName = *p.DisplayName
				}
				if p.Config != nil && v.Status == "warning" {
					v.Status = "ready"
				}
			}
		}),
		events.VaultDefaultSet: events.On(func(f *stateFold, _ eventstore.Event, p *events.VaultDefaultSetV1) {
			for _, v := range f.vaults {
				if v.Provider == p.Provider {
					v.Default = v.ID == p.VaultID
				}
			}
		}),
		events.VaultDisabled: events.On(func(f *stateFold, _ eventstore.Event, p *events.VaultDisabledV1) {
			if v := f.vaults[p.VaultID]; v != nil {
				v.Status, v.Default = "disabled", false
			}
		}),
		events.VaultHealthChecked: events.On(func(f *stateFold, _ eventstore.Event, p *events.VaultHealthCheckedV1) {
			if v := f.vaults[p.VaultID]; v != nil {
				v.Status = p.Status
			}
		}),
		events.ExternalPolicySet: events.On(func(f *stateFold, e eventstore.Event, p *events.ExternalPolicySetV1) {
			f.policy = &ExternalPolicyState{Prefixes: p.Prefixes, References: p.References, Regions: p.Regions,
				Namespaces: p.Namespaces, SetAt: e.RecordedAt, SetBy: actorOf(e.Metadata)}
		}),
	},
	// The state has no freezes or subscribers (the freeze routes read the log itself).
	Ignore: append([]string{events.CompanyFrozen, events.CompanyUnfrozen, events.ConsumerFrozen, events.ConsumerUnfrozen,
		events.EventSubscriberIssued, events.EventSubscriberRevoked, events.LeakScanRecorded, events.SecretExposureReported},
		stateUnread...),
}

// compactBindingOrder drops removed bindings from the order once they are half of it,
// so that binding and unbinding over years does not grow it.
func (f *stateFold) compactBindingOrder() {
	if len(f.bindingOrder) < 2*len(f.bindings)+64 {
		return
	}
	kept := f.bindingOrder[:0]
	for _, id := range f.bindingOrder {
		if f.bindings[id] != nil {
			kept = append(kept, id)
		}
	}
	f.bindingOrder = kept
}

func (f *stateFold) checkSize() error {
	if f.entries() > f.max {
		return errStateTooLarge(f.max)
	}
	return nil
}

func errStateTooLarge(max int) error {
	return ledgererr.New(ledgererr.Invalid, "the company's state at this cut has more than %d entries (secrets, bindings, envs, agent keys and vaults); ask for an earlier cut or use the read-model routes, which page", max)
}

// state is the fold's answer, with the secrets' current versions from current.
func (f *stateFold) state(current map[string]int) State {
	out := State{Secrets: []SecretState{}, Bindings: []BindingSpan{}, Envs: []EnvState{}, AgentKeys: []AgentKey{}, Vaults: []VaultState{},
		ExternalPolicy: f.policy}
	for _, id := range f.secretOrder {
		h := f.secrets[id]
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
	for _, id := range f.bindingOrder {
		if b := f.bindings[id]; b != nil {
			out.Bindings = append(out.Bindings, *b)
		}
	}
	for _, e := range f.envs {
		out.Envs = append(out.Envs, *e)
	}
	sort.Slice(out.Envs, func(i, j int) bool {
		if out.Envs[i].TargetType != out.Envs[j].TargetType {
			return out.Envs[i].TargetType < out.Envs[j].TargetType
		}
		return out.Envs[i].TargetID < out.Envs[j].TargetID
	})
	for _, id := range f.keyOrder {
		out.AgentKeys = append(out.AgentKeys, *f.keys[id])
	}
	for _, id := range f.vaultOrder {
		out.Vaults = append(out.Vaults, *f.vaults[id])
	}
	return out
}

// lastRotations is the current version of each rotated secret at a cut.
type lastRotations struct {
	current  map[string]int
	position int64
	err      error
}

// lastRotations finds each secret's last rotation at the cut from the rotation index
// alone, then reads only those events' payloads. It holds one entry per rotated secret,
// so it stops at the state's bound (maxEntries) like the fold, which counts every
// secret, deleted ones too.
func (l Log) lastRotations(ctx context.Context, company string, cut int64, at *time.Time, maxEntries int) lastRotations {
	res := lastRotations{current: map[string]int{}}
	rows, err := l.DB.Query(ctx, `SELECT e.stream_id, (e.payload ->> 'version')::int, e.position
		FROM (SELECT max(position) AS position FROM ledger_events
			WHERE company_id = $1 AND event_type = $4 AND position <= $2
			AND recorded_at <= coalesce($3::timestamptz, 'infinity') GROUP BY stream_id) last
		JOIN ledger_events e ON e.position = last.position`, company, cut, at, events.SecretVersionAdded)
	if err != nil {
		res.err = dbError(err)
		return res
	}
	var stream string
	var version int
	var pos int64
	_, err = pgx.ForEachRow(rows, []any{&stream, &version, &pos}, func() error {
		res.current[strings.TrimPrefix(stream, events.SecretStreamPrefix)] = version
		res.position = max(res.position, pos)
		if len(res.current) > maxEntries {
			return errStateTooLarge(maxEntries)
		}
		return nil
	})
	res.err = dbError(err)
	return res
}
