package commands

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// TargetTypes are the kinds of consumer a secret can be bound to.
// WARNING: persisted in events and read models.
var TargetTypes = []string{"agent", "project", "environment", "routine", "plugin", "issue", "run", "system"}

// Consumer identifies who receives values: one target of one company.
type Consumer = events.Consumer

func checkConsumer(c Consumer, a actor.Actor) error {
	if !a.CanAccess(c.CompanyID) {
		return ledgererr.New(ledgererr.NotFound, "company not found")
	}
	if !slices.Contains(TargetTypes, c.TargetType) {
		return ledgererr.New(ledgererr.Invalid, "targetType must be one of %s", strings.Join(TargetTypes, ", "))
	}
	if c.TargetID == "" || len(c.TargetID) > 200 || strings.ContainsAny(c.TargetID, "\x00\n") {
		return ledgererr.New(ledgererr.Invalid, "targetId must be 1 to 200 characters")
	}
	return nil
}

// Consumers handles a consumer's bindings and env: Bind, Unbind, PutEnv and
// MigrateInlineEnv.
type Consumers struct {
	rt      *Runtime
	storage storage // the local provider holds plain env values
	// directory finds a binding's consumer and a company's consumers (read models).
	directory  Directory
	strictMode bool
	// secrets creates and rotates the secrets MigrateInlineEnv moves values into.
	secrets *Secrets
}

// binding is one binding as its consumer's stream knows it.
type binding struct {
	id, secretID, configPath, selector, label string
	required                                  bool
}

// consumerState is a consumer's bindings, env and freeze, folded from its stream.
type consumerState struct {
	bindings      map[string]binding // by config path
	env           map[string]events.EnvEntryV1
	freeze        freezeState
	streamVersion int64
}

func newConsumerState() consumerState {
	return consumerState{bindings: map[string]binding{}, env: map[string]events.EnvEntryV1{}}
}

func (s *consumerState) apply(e eventstore.Event) error {
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	s.streamVersion = e.StreamVersion
	return consumerFold.Apply(s, e, p)
}

// consumerFold is what a consumer does with each event of its stream.
var consumerFold = events.Dispatch[*consumerState]{
	Name:    "commands: consumerState",
	Streams: []string{events.ConsumerStreamPrefix},
	Handle: map[string]events.Handler[*consumerState]{
		events.BindingCreated: events.On(func(s *consumerState, _ eventstore.Event, p *events.BindingCreatedV1) {
			s.bindings[p.ConfigPath] = binding{id: p.BindingID, secretID: p.SecretID, configPath: p.ConfigPath,
				selector: p.VersionSelector, label: p.Label, required: p.Required}
		}),
		events.BindingRemoved: events.On(func(s *consumerState, _ eventstore.Event, p *events.BindingRemovedV1) {
			delete(s.bindings, p.ConfigPath)
		}),
		events.ConsumerEnvSet: events.On(func(s *consumerState, _ eventstore.Event, p *events.ConsumerEnvSetV1) {
			s.env = p.Env
		}),
		events.ConsumerFrozen: events.On(func(s *consumerState, e eventstore.Event, _ *events.ConsumerFrozenV1) {
			s.freeze = frozenAt(e)
		}),
		events.ConsumerUnfrozen: events.On(func(s *consumerState, _ eventstore.Event, _ *events.ConsumerUnfrozenV1) {
			s.freeze = freezeState{}
		}),
	},
}

// loadConsumer returns a consumer's state from memory (or the log).
func (rt *Runtime) loadConsumer(ctx context.Context, c Consumer) (consumerState, error) {
	return rt.mem.consumers.get(ctx, c.Stream(), rt.foldAfter)
}

var configPathPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$`) // at most MaxConfigPath

// parseSelector accepts "latest" (or "") and a version number ≥ 1.
func parseSelector(s string) (string, int, error) {
	if s == "" || s == "latest" {
		return "latest", 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return "", 0, ledgererr.New(ledgererr.Invalid, `versionSelector must be "latest" or a version number`)
	}
	return strconv.Itoa(n), n, nil
}

// checkBindable loads the secret a binding or env ref points at: it must be a live
// secret of the same company (else not found), and a pinned version must exist. It
// returns the normalised selector and the secret's stream version the check read.
func (h *Consumers) checkBindable(ctx context.Context, a actor.Actor, companyID, secretID, selector string) (string, eventstore.StreamVersion, error) {
	st, err := h.rt.load(ctx, a, secretID)
	if err != nil && ledgererr.CodeOf(err) != ledgererr.NotFound {
		// The secret could not be read (the database unreachable): that is not a
		// secret that does not exist, which a client would not retry.
		return "", eventstore.StreamVersion{}, err
	}
	if err != nil || st.companyID != companyID || st.deleted {
		return "", eventstore.StreamVersion{}, errSecretNotFound
	}
	sel, n, err := parseSelector(selector)
	if err != nil {
		return "", eventstore.StreamVersion{}, err
	}
	if n > st.latestVersion {
		return "", eventstore.StreamVersion{}, ledgererr.New(ledgererr.Invalid, "secret %s has no version %d", secretID, n)
	}
	return sel, eventstore.StreamVersion{Stream: events.SecretStream(secretID), Version: st.streamVersion}, nil
}

// CreateBinding binds a secret to a consumer at a config path.
type CreateBinding struct {
	Consumer
	SecretID        string
	ConfigPath      string
	VersionSelector string
	Required        *bool
	Label           string
}

// BindingResult is what a binding command wrote.
type BindingResult struct {
	BindingID string
	Position  int64
}

// Bind runs CreateBinding.
func (h *Consumers) Bind(ctx context.Context, req Request, c CreateBinding) (BindingResult, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (BindingResult, error) { return h.bindOnce(ctx, req, c) })
}

func (h *Consumers) bindOnce(ctx context.Context, req Request, c CreateBinding) (BindingResult, error) {
	if err := checkConsumer(c.Consumer, req.Actor); err != nil {
		return BindingResult{}, err
	}
	if !configPathPattern.MatchString(c.ConfigPath) {
		return BindingResult{}, ledgererr.New(ledgererr.Invalid, "configPath must be letters, digits, '_', '.' or '-' (at most 200)")
	}
	sel, secret, err := h.checkBindable(ctx, req.Actor, c.CompanyID, c.SecretID, c.VersionSelector)
	if err != nil {
		return BindingResult{}, err
	}
	st, err := h.rt.loadConsumer(ctx, c.Consumer)
	if err != nil {
		return BindingResult{}, err
	}
	if b, taken := st.bindings[c.ConfigPath]; taken {
		// A retry whose first attempt made this binding (its answer lost to a reset
		// link or a request timeout) finds the path taken by itself: it is answered
		// from that attempt, as the append would have answered it, not refused. The
		// idempotency key's record says so; another request's key is a conflict.
		if res, ok, err := h.rt.log.Idempotent(ctx, c.CompanyID, req.Idempotency); ok || err != nil {
			return BindingResult{BindingID: b.id, Position: res.LastPosition}, err
		}
		return BindingResult{}, ledgererr.New(ledgererr.Conflict, "the consumer already has a binding at %s", c.ConfigPath)
	}
	required := c.Required == nil || *c.Required
	id := ulid.Make().String()
	evt, err := events.New(events.BindingCreated, c.CompanyID, events.BindingCreatedV1{BindingID: id, SecretID: c.SecretID,
		TargetType: c.TargetType, TargetID: c.TargetID, ConfigPath: c.ConfigPath, VersionSelector: sel,
		Required: required, Label: strings.TrimSpace(c.Label)}, req.metadata())
	if err != nil {
		return BindingResult{}, err
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: c.Stream(), Expected: st.streamVersion, Events: []eventstore.EventData{evt},
		Idempotency: req.Idempotency, Condition: []eventstore.StreamVersion{secret}})
	if err != nil {
		return BindingResult{}, err
	}
	if res.Replayed { // the first request made the binding: answer with its id
		h.rt.mem.markStale(c.Stream()) // it may have been made through another process
		if st, err = h.rt.loadConsumer(ctx, c.Consumer); err != nil {
			return BindingResult{}, err
		}
		id = st.bindings[c.ConfigPath].id
	}
	return BindingResult{BindingID: id, Position: res.LastPosition}, nil
}

// Directory answers the lookups commands cannot fold from one stream: which consumer a
// binding belongs to, and which consumers a company has. The read models implement it.
type Directory interface {
	BindingConsumer(ctx context.Context, bindingID string) (Consumer, error)
	ConsumersWithEnv(ctx context.Context, companyID string) ([]Consumer, error)
	// LiveAgentKeys returns the ids of the consumer's agent keys that are not revoked.
	LiveAgentKeys(ctx context.Context, c Consumer) ([]string, error)
	LiveSecretByName(ctx context.Context, companyID, name string) (string, error)
	// AgentKeyByHash finds an agent key (revoked or not) by its token's hash as its
	// issued event recorded it: keyed, or the bare SHA-256 (hex) of a key issued before
	// hashes were keyed. A keyed match comes first.
	AgentKeyByHash(ctx context.Context, keyedHash, unkeyedHash string) (keyID string, found bool, err error)
	// ImportCandidates returns the company's live secrets that a remote import could
	// conflict with: those with one of names or keys, and every external reference in
	// vaultID ("" for the deployment's instance).
	ImportCandidates(ctx context.Context, companyID, vaultID string, names, keys []string) ([]LiveSecret, error)
	// CompanySecretIDs returns the ids of every secret of the company that is not
	// purged, deleted ones included (a leak scan looks for their values too).
	CompanySecretIDs(ctx context.Context, companyID string) ([]string, error)
}

// LiveSecret is a live (not deleted) secret as a remote import's conflict check sees it.
type LiveSecret struct {
	ID, Name, Key, ManagedMode, ExternalRef, VaultID string
}

// Unbind removes a binding.
func (h *Consumers) Unbind(ctx context.Context, req Request, bindingID string) (BindingResult, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (BindingResult, error) { return h.unbindOnce(ctx, req, bindingID) })
}

func (h *Consumers) unbindOnce(ctx context.Context, req Request, bindingID string) (BindingResult, error) {
	notFound := ledgererr.New(ledgererr.NotFound, "binding not found")
	c, err := h.directory.BindingConsumer(ctx, bindingID)
	if ledgererr.CodeOf(err) == ledgererr.NotFound || (err == nil && !req.Actor.CanAccess(c.CompanyID)) {
		return BindingResult{}, notFound
	}
	if err != nil {
		return BindingResult{}, err
	}
	st, err := h.rt.loadConsumer(ctx, c)
	if err != nil {
		return BindingResult{}, err
	}
	for _, b := range st.bindings {
		if b.id != bindingID {
			continue
		}
		evt, err := events.New(events.BindingRemoved, c.CompanyID, events.BindingRemovedV1{BindingID: b.id, ConfigPath: b.configPath}, req.metadata())
		if err != nil {
			return BindingResult{}, err
		}
		res, err := h.rt.append(ctx, eventstore.Append{Stream: c.Stream(), Expected: st.streamVersion, Events: []eventstore.EventData{evt},
			Idempotency: req.Idempotency})
		return BindingResult{BindingID: bindingID, Position: res.LastPosition}, err
	}
	return BindingResult{}, notFound
}

// EnvInput is one key of a consumer env as a client sends it.
type EnvInput struct {
	Type     string // "plain" or "secret_ref"
	Value    *providers.Value
	SecretID string
	Version  string // "latest" or a number
}

// SetEnv replaces a consumer's env.
type SetEnv struct {
	Consumer
	Env map[string]EnvInput
}

// Limits on envs.
const MaxEnvKeys = 1000

// MaxConfigPath bounds a config path, explicit or made from an env key ("env.<key>").
const MaxConfigPath = 200

// envKeyPattern leaves room for the "env." of the config path an env key becomes.
var envKeyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,195}$`)

var sensitiveKey = regexp.MustCompile(`(?i)api[-_]?key|access[-_]?token|auth(_?token)?|authorization|bearer|secret|passwd|password|credential|jwt|private[-_]?key|cookie|connectionstring|(^|[-_])token$`)

// IsSensitiveKey reports whether an env key names something that should be a secret.
func IsSensitiveKey(key string) bool { return sensitiveKey.MatchString(key) }

// PutEnv runs SetEnv: it stores plain values encrypted, and in the same append replaces
// the env and syncs the consumer's env.* bindings (adds, removes, re-pins); its other
// bindings stay.
func (h *Consumers) PutEnv(ctx context.Context, req Request, c SetEnv) (BindingResult, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (BindingResult, error) { return h.putEnvOnce(ctx, req, c) })
}

func (h *Consumers) putEnvOnce(ctx context.Context, req Request, c SetEnv) (BindingResult, error) {
	if err := checkConsumer(c.Consumer, req.Actor); err != nil {
		return BindingResult{}, err
	}
	if len(c.Env) > MaxEnvKeys {
		return BindingResult{}, ledgererr.New(ledgererr.TooLarge, "an env holds at most %d keys", MaxEnvKeys)
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	desired, refs, err := h.checkEnv(ctx, req.Actor, c, keys)
	if err != nil {
		return BindingResult{}, err
	}
	st, err := h.rt.loadConsumer(ctx, c.Consumer)
	if err != nil {
		return BindingResult{}, err
	}
	local, err := h.storage.provider(providers.LocalEncrypted)
	if err != nil {
		return BindingResult{}, err
	}
	meta := req.metadata()
	var evs []eventstore.EventData
	add := func(typ string, payload any) error {
		e, err := events.New(typ, c.CompanyID, payload, meta)
		evs = append(evs, e)
		return err
	}
	if err := syncEnvBindings(c, st, keys, desired, add); err != nil {
		return BindingResult{}, err
	}
	env, writes, err := storeEnv(ctx, local, c, keys)
	discardAll := func() {
		for _, w := range writes {
			w.discard(ctx)
		}
	}
	if err == nil {
		err = add(events.ConsumerEnvSet, events.ConsumerEnvSetV1{TargetType: c.TargetType, TargetID: c.TargetID, Env: env})
	}
	if err != nil {
		discardAll()
		return BindingResult{}, err
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: c.Stream(), Expected: st.streamVersion, Events: evs,
		Idempotency: req.Idempotency, Condition: refs})
	if err != nil || res.Replayed {
		discardAll()
	}
	return BindingResult{Position: res.LastPosition}, err
}

// checkEnv checks each entry of an env (keys in order) and returns the env.* bindings
// the env asks for, by config path, and the secrets it refers to, as checked.
func (h *Consumers) checkEnv(ctx context.Context, a actor.Actor, c SetEnv, keys []string) (map[string]binding, []eventstore.StreamVersion, error) {
	desired := map[string]binding{}
	var refs []eventstore.StreamVersion
	for _, k := range keys {
		in := c.Env[k]
		if !envKeyPattern.MatchString(k) {
			return nil, nil, ledgererr.New(ledgererr.Invalid,
				"env key %.40q must be a letter or '_', then letters, digits or '_' (at most %d characters)", k, MaxConfigPath-len("env."))
		}
		switch in.Type {
		case "plain":
			if in.Value == nil {
				return nil, nil, ledgererr.New(ledgererr.Invalid, "env key %s: a plain entry needs a value", k)
			}
			if h.strictMode && IsSensitiveKey(k) && in.Value.Len() > 0 {
				return nil, nil, ledgererr.New(ledgererr.Invalid, "Strict secret mode requires secret references for sensitive key: %s", k)
			}
			if in.Value.Len() > MaxValueBytes {
				return nil, nil, ledgererr.New(ledgererr.Invalid, "env key %s: value is larger than %d bytes", k, MaxValueBytes)
			}
		case "secret_ref":
			sel, ref, err := h.checkBindable(ctx, a, c.CompanyID, in.SecretID, in.Version)
			refs = append(refs, ref)
			if err != nil {
				return nil, nil, err
			}
			path := "env." + k
			desired[path] = binding{secretID: in.SecretID, configPath: path, selector: sel, required: true}
		default:
			return nil, nil, ledgererr.New(ledgererr.Invalid, `env key %s: type must be "plain" or "secret_ref"`, k)
		}
	}
	return desired, refs, nil
}

// syncEnvBindings adds the events that sync a consumer's env.* bindings with desired:
// it removes what the env no longer asks for (or asks for differently), then adds what
// is missing. desired loses the bindings kept as they are.
func syncEnvBindings(c SetEnv, st consumerState, keys []string, desired map[string]binding, add func(typ string, payload any) error) error {
	paths := make([]string, 0, len(st.bindings))
	for p := range st.bindings {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		b := st.bindings[p]
		want, ok := desired[p]
		if !strings.HasPrefix(p, "env.") || (ok && want.secretID == b.secretID && want.selector == b.selector) {
			delete(desired, p) // kept as is
			continue
		}
		if err := add(events.BindingRemoved, events.BindingRemovedV1{BindingID: b.id, ConfigPath: p}); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if b, ok := desired["env."+k]; ok {
			if err := add(events.BindingCreated, events.BindingCreatedV1{BindingID: ulid.Make().String(), SecretID: b.secretID,
				TargetType: c.TargetType, TargetID: c.TargetID, ConfigPath: b.configPath, VersionSelector: b.selector,
				Required: true}); err != nil {
				return err
			}
		}
	}
	return nil
}

// storeEnv is the env as its event records it: plain values are encrypted like secrets,
// and the event keeps only references. It returns the writes made, to undo when the
// append does not take them (on an error, those made before it).
func storeEnv(ctx context.Context, local providers.Provider, c SetEnv, keys []string) (map[string]events.EnvEntryV1, []*stored, error) {
	env := map[string]events.EnvEntryV1{}
	var writes []*stored
	for _, k := range keys {
		in := c.Env[k]
		if in.Type == "secret_ref" {
			sel, _, _ := parseSelector(in.Version) // checked by checkEnv
			env[k] = events.EnvEntryV1{Type: "secret_ref", SecretID: in.SecretID, Version: sel}
			continue
		}
		if in.Value.Len() == 0 {
			env[k] = events.EnvEntryV1{Type: "plain", Empty: true}
			continue
		}
		// Env values are not versioned: version 0 in the AAD, the reference tells them apart.
		ref := providers.Ref{CompanyID: c.CompanyID, SecretID: c.EnvSecretID()}
		s, err := local.Put(ctx, ref, *in.Value)
		if err != nil {
			return nil, writes, err
		}
		writes = append(writes, &stored{p: local, ref: ref, Stored: s})
		env[k] = events.EnvEntryV1{Type: "plain", ProviderVersionRef: s.ProviderVersionRef, Fingerprint: s.Fingerprint}
	}
	return env, writes, nil
}
