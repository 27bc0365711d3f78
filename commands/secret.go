package commands

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Managed modes and statuses of a secret.
// WARNING: persisted in events and read models.
const (
	ManagedByLedger   = "paperclip_managed"
	ExternalReference = "external_reference"

	StatusActive   = "active"
	StatusDisabled = "disabled"
	StatusArchived = "archived"
	StatusDeleted  = "deleted"
)

// Limits on input.
const (
	MaxNameLength = 160
	MaxKeyLength  = 120
	MaxValueBytes = 64 << 10
)

// EventLog is what the commands need of the event store.
type EventLog interface {
	// AppendWith appends with everything that rides on an append: the versions of the
	// other streams the decision read, guards, and statements of the same transaction.
	AppendWith(ctx context.Context, a eventstore.Append) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, afterVersion int64, limit int) ([]eventstore.Event, error)
	ReadStreams(ctx context.Context, after map[string]int64) (map[string][]eventstore.Event, error)
	// Idempotent looks an idempotency key up before any side effect (see replayed).
	Idempotent(ctx context.Context, company string, idem *eventstore.Idempotency) (eventstore.AppendResult, bool, error)
}

// Secrets handles the secret lifecycle commands: Create, Update, Rotate, Delete,
// Restore and Purge.
type Secrets struct {
	rt      *Runtime
	storage storage
	ext     externalRefs
	// recoveryWindow is how long a deleted secret can be restored.
	recoveryWindow time.Duration
	now            func() time.Time
	// readback, when set, reads a secret back in the transaction of the command's
	// append, so that the answer needs no further read.
	readback Readback
}

// Readback makes the statement that reads a secret back inside the transaction of the
// append that changed it; the statement hands what it read to got. The wiring makes it
// over the read models (the command has checked the actor already), whose row then
// rides on the Result.
type Readback func(secretID string, got func(any)) eventstore.Statement

// Request carries who asks, and how to make the command safe to retry.
type Request struct {
	Actor       actor.Actor
	RequestID   string
	Idempotency *eventstore.Idempotency
}

func (r Request) metadata() eventstore.Metadata {
	m := eventstore.Metadata{ActorType: r.Actor.Type, ActorID: r.Actor.ID, RequestID: r.RequestID}
	if r.Idempotency != nil {
		m.IdempotencyKey = r.Idempotency.Key
	}
	return m
}

// Result is what a command wrote.
type Result struct {
	SecretID string
	// Position is the log position of the last event written (or of the first
	// request's, for a replay); queries at or after it see the change.
	Position int64
	Replayed bool
	// Readback is the secret as the append's transaction read it back (see Readback),
	// nil when the command read none (a replay, nothing written, no Readback wired).
	Readback any
}

// secretState is the secret aggregate folded from its stream.
type secretState struct {
	exists    bool
	companyID string
	name, key string
	// providerKey is the key the secret was created with: providers that name secrets
	// after it keep that name when the key is changed later.
	providerKey   string
	provider      string
	vaultID       string
	managedMode   string
	status        string // before deletion: restored to it
	deleted       bool
	deletedAt     time.Time
	purged        bool
	latestVersion int
	versions      map[int]versionState
	streamVersion int64
}

// versionState is what resolution needs of one version.
type versionState struct {
	providerVersionRef string
	// externalRef is the version's external reference (external_reference secrets).
	externalRef string
	destroyed   bool
}

func (s *secretState) apply(e eventstore.Event) error {
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	s.streamVersion = e.StreamVersion
	return secretFold.Apply(s, e, p)
}

// secretFold is what the secret aggregate does with each event of its stream.
var secretFold = events.Dispatch[*secretState]{
	Name:    "commands: secretState",
	Streams: []string{events.SecretStreamPrefix},
	Handle: map[string]events.Handler[*secretState]{
		events.SecretCreated: events.On(func(s *secretState, e eventstore.Event, p *events.SecretCreatedV1) {
			*s = secretState{exists: true, companyID: e.CompanyID, name: p.Name, key: p.Key, providerKey: p.Key, provider: p.Provider, vaultID: p.ProviderConfigID,
				managedMode: p.ManagedMode, status: StatusActive, latestVersion: 1, streamVersion: e.StreamVersion,
				versions: map[int]versionState{1: {providerVersionRef: p.ProviderVersionRef, externalRef: p.ExternalRef}}}
		}),
		events.SecretVersionAdded: events.On(func(s *secretState, _ eventstore.Event, p *events.SecretVersionAddedV1) {
			ext := p.ExternalRef
			if ext == "" { // a rotation that pinned another version of the same reference
				ext = s.versions[s.latestVersion].externalRef
			}
			s.latestVersion = p.Version
			s.versions[p.Version] = versionState{providerVersionRef: p.ProviderVersionRef, externalRef: ext}
		}),
		events.SecretUpdated: events.On(func(s *secretState, _ eventstore.Event, p *events.SecretUpdatedV1) {
			if p.Name != nil {
				s.name = *p.Name
			}
			if p.Key != nil {
				s.key = *p.Key
			}
			if p.Status != nil {
				s.status = *p.Status
			}
		}),
		events.SecretDeleted: events.On(func(s *secretState, e eventstore.Event, _ *events.SecretDeletedV1) {
			s.deleted, s.deletedAt = true, e.RecordedAt
		}),
		events.SecretRestored: events.On(func(s *secretState, _ eventstore.Event, p *events.SecretRestoredV1) {
			s.deleted, s.status = false, p.Status
		}),
		events.SecretPurged: events.On(func(s *secretState, e eventstore.Event, _ *events.SecretPurgedV1) {
			s.purged, s.deleted = true, true
			for v, vs := range s.versions {
				vs.destroyed = true
				s.versions[v] = vs
			}
			if s.deletedAt.IsZero() {
				s.deletedAt = e.RecordedAt
			}
		}),
	},
}

// errSecretNotFound is the one answer for a secret that does not exist, belongs to a
// company the caller cannot see, or (where the command says so) was deleted: no
// existence leak.
var errSecretNotFound = ledgererr.New(ledgererr.NotFound, "secret not found")

// load returns a secret's state from memory (or the log); a secret the actor may not
// see is not found.
func (rt *Runtime) load(ctx context.Context, a actor.Actor, secretID string) (secretState, error) {
	if secretID == "" || strings.ContainsAny(secretID, "/ ") {
		return secretState{}, errSecretNotFound
	}
	st, err := rt.mem.secrets.get(ctx, events.SecretStream(secretID), rt.foldAfter)
	if err != nil {
		return st, err
	}
	if !st.exists || !a.CanAccess(st.companyID) {
		return secretState{}, errSecretNotFound
	}
	return st, nil
}

// loadSecrets returns several secrets' states (resolution reads every bound secret):
// from memory, and those it lacks with one read of the log. Secrets that do not exist
// are left out.
func (rt *Runtime) loadSecrets(ctx context.Context, ids []string) (map[string]secretState, error) {
	out := make(map[string]secretState, len(ids))
	missing := map[string]secretState{}
	for _, id := range ids {
		stream := events.SecretStream(id)
		if st, ok := rt.mem.secrets.cached(stream); ok {
			out[id] = st
		} else {
			missing[stream] = st
		}
	}
	for len(missing) > 0 {
		after := make(map[string]int64, len(missing))
		for stream, st := range missing {
			after[stream] = st.streamVersion
		}
		evs, err := rt.log.ReadStreams(ctx, after)
		if err != nil {
			return nil, err
		}
		n := 0
		for stream, list := range evs {
			st := missing[stream]
			for _, e := range list {
				if err := st.apply(e); err != nil {
					return nil, err
				}
			}
			missing[stream] = st
			n += len(list)
		}
		if n < eventstore.MaxReadLimit {
			break // a very long stream is read on after what came
		}
	}
	for id, st := range out {
		noteRead(ctx, events.SecretStream(id), st.streamVersion)
	}
	for stream, st := range missing {
		rt.mem.secrets.put(stream, st)
		noteRead(ctx, stream, st.streamVersion)
		if st.exists {
			out[strings.TrimPrefix(stream, events.SecretStreamPrefix)] = st
		}
	}
	return out, nil
}

var keyJunk = regexp.MustCompile(`[^a-z0-9_.-]+`)

// NormalizeKey trims, lowercases, turns runs of characters outside [a-z0-9_.-] into
// "-", strips leading and trailing "-", and cuts to MaxKeyLength.
func NormalizeKey(s string) string {
	k := keyJunk.ReplaceAllString(strings.ToLower(strings.TrimSpace(s)), "-")
	k = strings.Trim(k, "-")
	if len(k) > MaxKeyLength {
		k = strings.TrimRight(k[:MaxKeyLength], "-")
	}
	return k
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if n := len([]rune(name)); n < 1 || n > MaxNameLength {
		return "", ledgererr.New(ledgererr.Invalid, "name must be 1 to %d characters", MaxNameLength)
	}
	return name, nil
}

func checkKey(raw, name string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		raw = name
	}
	k := NormalizeKey(raw)
	if k == "" {
		return "", ledgererr.New(ledgererr.Invalid, "key is empty after normalisation (use letters, digits, '_', '.' or '-')")
	}
	return k, nil
}

func checkValue(v *providers.Value) error {
	switch {
	case v == nil || v.Len() == 0:
		return ledgererr.New(ledgererr.Invalid, "a managed secret needs a non-empty value")
	case v.Len() > MaxValueBytes:
		return ledgererr.New(ledgererr.Invalid, "value is larger than %d bytes", MaxValueBytes)
	case string(v.Reveal()) == events.RedactedMarker:
		return ledgererr.New(ledgererr.Invalid, "the value is the redaction marker %s, not a secret", events.RedactedMarker)
	}
	return nil
}

// ref names a version of this secret at its provider; an external reference's version
// carries its externalRef.
func (s secretState) ref(secretID string, version int) providers.Ref {
	return providers.Ref{CompanyID: s.companyID, SecretID: secretID, Version: version, Key: s.providerKey,
		ExternalRef: s.versions[version].externalRef}
}

// Limits of an external reference (AWS: an ARN, a VersionId).
const (
	MaxExternalRef        = 2048
	MaxProviderVersionRef = 512
)

func checkExternalRef(externalRef, providerVersionRef string) error {
	switch {
	case len(externalRef) > MaxExternalRef:
		return ledgererr.New(ledgererr.Invalid, "externalRef is longer than %d characters", MaxExternalRef)
	case len(providerVersionRef) > MaxProviderVersionRef:
		return ledgererr.New(ledgererr.Invalid, "providerVersionRef is longer than %d characters", MaxProviderVersionRef)
	}
	return nil
}

func (s storage) provider(id string) (providers.Provider, error) {
	p, ok := s.instances[id]
	if !ok {
		return nil, ledgererr.New(ledgererr.Invalid, "unknown or unconfigured provider %q", id)
	}
	return p, nil
}

// stored is a provider write that the append may still have to undo, or, staged, one
// that commits in the append's own transaction (and so is never left behind).
type stored struct {
	p   providers.Provider
	ref providers.Ref
	providers.Stored
	staged *providers.StagedWrite
}

// put stores v as ref: staged in the append's transaction when the provider can, else
// written now (and undone by discard if the append does not take it).
func put(ctx context.Context, p providers.Provider, ref providers.Ref, v providers.Value) (*stored, error) {
	if s, ok := p.(providers.Stager); ok {
		st, w, err := s.Stage(ctx, ref, v)
		if err != nil {
			return nil, err
		}
		return &stored{p: p, ref: ref, Stored: st, staged: &w}, nil
	}
	st, err := p.Put(ctx, ref, v)
	if err != nil {
		return nil, err
	}
	return &stored{p: p, ref: ref, Stored: st}, nil
}

// statement is the staged write as a statement of the append, nil when there is none.
func (s *stored) statement() []eventstore.Statement {
	if s == nil || s.staged == nil {
		return nil
	}
	return []eventstore.Statement{{SQL: s.staged.SQL, Args: s.staged.Args, Row: func(r pgx.Row) error {
		var n int64
		if err := r.Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("commands: the staged write of %s version %d stored %d values", s.ref.SecretID, s.ref.Version, n)
		}
		return nil
	}}}
}

// discard undoes the write; it uses a fresh context, since the request's may be gone.
func (s *stored) discard(ctx context.Context) {
	if s == nil || s.staged != nil || s.ProviderVersionRef == "" {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = s.p.Discard(dctx, s.ref, s.ProviderVersionRef) // best effort: an orphan row is unreachable and holds only ciphertext
}

// replayed answers a retried request from its first result before the command writes
// anything to provider p: a provider that names secrets (AWS) would otherwise refuse,
// or duplicate, the retry's write. A provider whose writes are staged in the append's
// transaction needs no such look-up: the append itself answers a replay and runs none
// of its statements.
func (h *Secrets) replayed(ctx context.Context, req Request, companyID string, p providers.Provider) (Result, bool, error) {
	if _, staged := p.(providers.Stager); staged || req.Idempotency == nil {
		return Result{}, false, nil
	}
	res, ok, err := h.rt.log.Idempotent(ctx, companyID, req.Idempotency)
	if !ok || err != nil {
		return Result{}, ok, err
	}
	return Result{SecretID: strings.TrimPrefix(res.StreamID, events.SecretStreamPrefix), Position: res.LastPosition, Replayed: true}, true, nil
}

// refusedUnlessReplayed answers a refusal, unless the request is a retry of one that
// committed: the decision then ran on the secret as the first try left it, where a
// compare-and-set's expected version is stale, a restored secret is not deleted, or a
// later delete hides it. The retry must get the first result, not a refusal that tells
// its client nothing was written. The look-up is made only on a refusal, regardless of
// the provider: a Stager's replays are otherwise found only by the append, after the
// decision.
func (h *Secrets) refusedUnlessReplayed(ctx context.Context, req Request, companyID string, refusal error) (Result, error) {
	if req.Idempotency == nil || companyID == "" {
		return Result{}, refusal
	}
	res, ok, err := h.rt.log.Idempotent(ctx, companyID, req.Idempotency)
	switch {
	case err != nil:
		return Result{}, err
	case !ok:
		return Result{}, refusal
	}
	return Result{SecretID: strings.TrimPrefix(res.StreamID, events.SecretStreamPrefix), Position: res.LastPosition, Replayed: true}, nil
}

// commit tells a provider that stages versions of its own that the ledger committed
// this one; a provider that cannot promote it now retries by itself (resolution never
// depends on it).
func (s *stored) commit(ctx context.Context) {
	if s == nil || s.staged != nil {
		return
	}
	c, ok := s.p.(providers.Committer)
	if !ok || s.ProviderVersionRef == "" {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = c.Commit(cctx, s.ref, s.ProviderVersionRef)
}

// appendSecret appends a secret command's events: on the decided stream version and
// the versions of the other streams the decision read (cond), with the request's
// guards, the staged provider write and the read-back riding along.
// Unless the events were newly written, a provider write made beforehand is undone.
func (h *Secrets) appendSecret(ctx context.Context, req Request, secretID string, expected int64, cond []eventstore.StreamVersion,
	w *stored, evs ...eventstore.EventData) (Result, error) {
	stmts := w.statement()
	var read any
	if h.readback != nil {
		stmts = append(stmts, h.readback(secretID, func(v any) { read = v }))
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: events.SecretStream(secretID), Expected: expected, Events: evs,
		Idempotency: req.Idempotency, Statements: stmts, Condition: cond})
	if err != nil || res.Replayed {
		w.discard(ctx)
	}
	if err != nil {
		return Result{}, err
	}
	if !res.Replayed && w != nil && w.staged != nil && w.staged.Committed != nil {
		w.staged.Committed()
	}
	return Result{SecretID: strings.TrimPrefix(res.StreamID, events.SecretStreamPrefix), Position: res.LastPosition, Replayed: res.Replayed,
		Readback: read}, nil
}

func (h *Secrets) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}
