package commands

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Resolution outcomes, in the order they are checked (after CompanyFrozen and
// ConsumerFrozen, which stop the whole call).
// WARNING: persisted in secret.accessed events.
const (
	Resolved        = events.OutcomeResolved
	BindingMissing  = events.OutcomeBindingMissing
	SecretDeleted   = events.OutcomeSecretDeleted
	SecretInactive  = events.OutcomeSecretInactive
	VersionMissing  = events.OutcomeVersionMissing
	VersionInactive = events.OutcomeVersionInactive
	ProviderError   = events.OutcomeProviderError
)

// ResolutionObserver hears the outcome of each config path of a resolution once its
// access is recorded: outcome is Resolved or a failure outcome above, source is
// SourceInline or SourceSecret. It must be quick; it runs on the request.
type ResolutionObserver interface {
	Resolution(outcome, source string)
}

// SourceSecret names, for a ResolutionObserver, a path bound to a secret (the access
// events leave their Source empty).
const SourceSecret = "secret"

// Resolver resolves the values of an agent key's consumer: ResolveValues.
type Resolver struct {
	rt      *Runtime
	storage storage // the provider instances that hold the values
	ext     externalRefs
	// observer, when set, hears the outcome of every resolved config path (metrics).
	observer ResolutionObserver
}

// Resolve asks for the values of an agent key's own consumer.
type Resolve struct {
	ConfigPaths []string // empty: every binding
	RunID       string
	IssueID     string
}

// ManifestEntry reports one config path: where its value came from, or why not.
type ManifestEntry struct {
	ConfigPath string
	EnvKey     string
	SecretID   string
	SecretKey  string
	Version    int
	Provider   string
	Outcome    string
	Required   bool
	// Source is SourceInline for a plain env value, "" for a secret.
	Source string
	// ProviderCode is the provider's finer code of a provider_error (AWS: access_denied,
	// throttled, not_found, …), "" otherwise. For an imported external reference,
	// access_denied is the expected failure: visibility in the provider's inventory does
	// not prove read permission.
	ProviderCode string

	vault string // the provider vault holding the value ("" for the deployment's)
	// transient: the provider could not be read now (its storage or service
	// unavailable, or throttling); the same request may succeed later.
	transient bool
}

// Resolution is what an agent receives. Values are redacted types; only the HTTP
// response writer reveals them.
type Resolution struct {
	Env      map[string]providers.Value
	Values   map[string]providers.Value
	Manifest []ManifestEntry
	Position int64
}

// Bounds of one resolution.
const (
	// MaxResolvePaths bounds the distinct config paths one resolution may ask for.
	MaxResolvePaths = 256
	// MaxRunRef bounds runId and issueId.
	MaxRunRef = 200
)

// SourceInline marks an access to a plain (inline) env value rather than a secret.
// WARNING: persisted in secret.accessed events.
const SourceInline = "inline"

// requestedPaths checks the config paths a resolution asks for: duplicates collapse,
// each must be a config path, and there are at most MaxResolvePaths.
func requestedPaths(paths []string) ([]string, error) {
	seen := make(map[string]bool, len(paths))
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if seen[p] {
			continue
		}
		if !configPathPattern.MatchString(p) {
			return nil, ledgererr.New(ledgererr.BadRequest,
				"configPaths: %.40q is not a config path (letters, digits, '_', '.' or '-', at most %d)", p, MaxConfigPath)
		}
		seen[p] = true
		out = append(out, p)
		if len(out) > MaxResolvePaths {
			return nil, ledgererr.New(ledgererr.BadRequest, "configPaths: at most %d distinct paths per resolution", MaxResolvePaths)
		}
	}
	return out, nil
}

// ResolveValues runs Resolve for an agent key. Every value that leaves (of a binding or
// of a plain env entry) and every failed attempt is appended as a secret.accessed event
// before anything is returned: if that append fails, no value is returned. The paths
// of one request that have no binding are recorded together, as one event. A frozen
// company or consumer refuses the whole call (403), recorded the same way.
func (h *Resolver) ResolveValues(ctx context.Context, req Request, r Resolve) (Resolution, error) {
	a := req.Actor
	if a.Type != actor.Agent || len(a.Companies) != 1 {
		return Resolution{}, ledgererr.New(ledgererr.Forbidden, "runtime resolution is for agent keys")
	}
	paths, err := requestedPaths(r.ConfigPaths)
	if err != nil {
		return Resolution{}, err
	}
	if len(r.RunID) > MaxRunRef || len(r.IssueID) > MaxRunRef {
		return Resolution{}, ledgererr.New(ledgererr.BadRequest, "runId and issueId are at most %d bytes", MaxRunRef)
	}
	c := Consumer{CompanyID: a.Companies[0], TargetType: a.TargetType, TargetID: a.TargetID}
	out, err := decideAgain(ctx, h.rt, func(ctx context.Context) (Resolution, error) { return h.resolveOnce(ctx, req, r, c, paths) })
	var stale *eventstore.StaleError
	if errors.As(err, &stale) {
		return Resolution{}, ledgererr.New(ledgererr.Conflict, "the consumer, its company or its secrets kept changing during the resolution; retry")
	}
	return out, err
}

// resolveOnce decides a resolution on the agent key, the consumer, the company and the
// bound secrets as memory has them, and appends its access events on the condition
// that none of their streams moved since: a revocation, freeze, unbind, disable or
// delete that committed meanwhile (in any process) makes it decide again on the log's
// state instead of releasing values decided before it.
func (h *Resolver) resolveOnce(ctx context.Context, req Request, r Resolve, c Consumer, paths []string) (Resolution, error) {
	a := req.Actor
	key, err := h.rt.agentKey(ctx, events.AgentKeyStream(a.ID))
	if err != nil {
		return Resolution{}, err
	}
	if key.revoked || key.companyID != c.CompanyID || key.targetType != c.TargetType || key.targetID != c.TargetID {
		return Resolution{}, errAgentKeyRefused
	}
	st, company, err := h.rt.loadGate(ctx, c)
	if err != nil {
		return Resolution{}, err
	}
	cond := append(gate(c, st, company), eventstore.StreamVersion{Stream: events.AgentKeyStream(a.ID), Version: key.streamVersion})
	if len(paths) == 0 {
		paths = st.allPaths()
	}
	frozen := frozenOutcome(st, company)
	if frozen != "" {
		return h.refuseFrozen(ctx, req, r, c, st, paths, frozen, cond)
	}
	entries, reads, cond, err := h.checkPaths(ctx, a, c, st, paths, cond)
	if err != nil {
		return Resolution{}, err
	}
	values := h.readValues(ctx, c.CompanyID, entries, reads)
	out := Resolution{Env: map[string]providers.Value{}, Values: map[string]providers.Value{}}
	accessEvents, failed, err := out.release(req, r, c, entries, values)
	if err != nil {
		return Resolution{}, err
	}
	if len(accessEvents) > 0 {
		if out.Position, err = h.recordAccess(ctx, req, c, cond, accessEvents); err != nil {
			return Resolution{}, err
		}
	}
	h.observeResolution(entries)
	if len(failed) > 0 {
		return Resolution{}, resolutionFailed(entries, failed)
	}
	return out, nil
}

// checkPaths runs the checks of each path on the consumer's state and its bound
// secrets, and returns the entries, the provider reads still to do (by entry index),
// and cond with the streams the checks read (the secrets', the policy's).
func (h *Resolver) checkPaths(ctx context.Context, a actor.Actor, c Consumer, st consumerState, paths []string,
	cond []eventstore.StreamVersion) ([]ManifestEntry, map[int]providers.VersionRequest, []eventstore.StreamVersion, error) {
	var ids []string
	for _, path := range paths {
		if b, ok := st.bindings[path]; ok {
			ids = append(ids, b.secretID)
		}
	}
	secrets, err := h.rt.loadSecrets(ctx, ids)
	if err != nil {
		return nil, nil, cond, err
	}
	for _, id := range ids {
		cond = append(cond, eventstore.StreamVersion{Stream: events.SecretStream(id), Version: secrets[id].streamVersion})
	}
	entries := make([]ManifestEntry, len(paths))
	reads := map[int]providers.VersionRequest{} // entry index → provider read still to do
	for i, path := range paths {
		var read *providers.VersionRequest
		entries[i], read = checkOne(a, c, st, path, secrets)
		if read != nil {
			reads[i] = *read
		}
	}
	cond, err = h.checkResolvePolicy(ctx, c.CompanyID, entries, reads, cond)
	return entries, reads, cond, err
}

// release puts the values of the resolved entries into out, and returns the access
// events that record every entry (the paths without a binding together, as one event)
// and the required paths that failed.
func (out *Resolution) release(req Request, r Resolve, c Consumer, entries []ManifestEntry,
	values map[int]providers.Value) ([]eventstore.EventData, []string, error) {
	var accessEvents []eventstore.EventData
	access := func(p events.SecretAccessedV1) error {
		p.TargetType, p.TargetID, p.RunID, p.IssueID = c.TargetType, c.TargetID, r.RunID, r.IssueID
		evt, err := events.New(events.SecretAccessed, c.CompanyID, p, req.metadata())
		accessEvents = append(accessEvents, evt)
		return err
	}
	var failed, missing []string
	for i, entry := range entries {
		path := entry.ConfigPath
		out.Manifest = append(out.Manifest, entry)
		if entry.Outcome == BindingMissing && entry.SecretID == "" {
			missing = append(missing, path)
		} else if err := access(events.SecretAccessedV1{SecretID: entry.SecretID, Version: entry.Version, ConfigPath: path,
			Outcome: entry.Outcome, Source: entry.Source, ProviderCode: entry.ProviderCode}); err != nil {
			return nil, nil, err
		}
		switch {
		case entry.Outcome == Resolved:
			out.Values[path] = values[i]
			if entry.EnvKey != "" {
				out.Env[entry.EnvKey] = values[i]
			}
		case entry.Required && entry.ProviderCode != "":
			failed = append(failed, path+": "+entry.Outcome+" ("+entry.ProviderCode+")")
		case entry.Required:
			failed = append(failed, path+": "+entry.Outcome)
		}
	}
	var err error
	switch len(missing) {
	case 0:
	case 1:
		err = access(events.SecretAccessedV1{ConfigPath: missing[0], Outcome: BindingMissing})
	default:
		err = access(events.SecretAccessedV1{ConfigPaths: missing, Outcome: BindingMissing})
	}
	return accessEvents, failed, err
}

// recordAccess appends a resolution's access events, provided every stream the
// resolution decided on is still at the version it read (a StaleError otherwise:
// nothing is recorded, no value leaves, and the resolution is decided again). It
// returns the log position of the last event.
func (h *Resolver) recordAccess(ctx context.Context, req Request, c Consumer, cond []eventstore.StreamVersion, evs []eventstore.EventData) (int64, error) {
	res, err := h.rt.append(ctx, eventstore.Append{Stream: events.AccessStream(c.CompanyID, c.TargetType, c.TargetID),
		Expected: eventstore.Unversioned, Events: evs, Condition: cond})
	var stale *eventstore.StaleError
	if errors.As(err, &stale) {
		return 0, err
	}
	if err != nil {
		return 0, ledgererr.Wrap(err, ledgererr.Unavailable, "the access could not be recorded, so no value is returned; retry")
	}
	return res.LastPosition, nil
}

// refuseFrozen records a resolution that a freeze stops: every asked path (or, when the
// consumer has nothing to resolve, the call itself) as one access event with the
// freeze's outcome, and no provider is read. The answer is 403 and holds no value.
func (h *Resolver) refuseFrozen(ctx context.Context, req Request, r Resolve, c Consumer, st consumerState, paths []string, outcome string,
	cond []eventstore.StreamVersion) (Resolution, error) {
	entries := make([]ManifestEntry, 0, max(len(paths), 1))
	for _, path := range paths {
		e := ManifestEntry{ConfigPath: path, Outcome: outcome, Required: true}
		if b, ok := st.bindings[path]; ok {
			e.SecretID = b.secretID
		} else if key, ok := strings.CutPrefix(path, "env."); ok && st.env[key].Type == "plain" {
			e.Source = SourceInline
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		entries = append(entries, ManifestEntry{Outcome: outcome, Required: true})
	}
	evs := make([]eventstore.EventData, len(entries))
	for i, e := range entries {
		var err error
		evs[i], err = events.New(events.SecretAccessed, c.CompanyID, events.SecretAccessedV1{SecretID: e.SecretID,
			TargetType: c.TargetType, TargetID: c.TargetID, ConfigPath: e.ConfigPath, RunID: r.RunID, IssueID: r.IssueID,
			Outcome: outcome, Source: e.Source}, req.metadata())
		if err != nil {
			return Resolution{}, err
		}
	}
	if _, err := h.recordAccess(ctx, req, c, cond, evs); err != nil {
		return Resolution{}, err
	}
	h.observeResolution(entries)
	if outcome == CompanyFrozen {
		return Resolution{}, ledgererr.New(ledgererr.Forbidden, "resolution refused: the company is frozen (%s)", outcome)
	}
	return Resolution{}, ledgererr.New(ledgererr.Forbidden, "resolution refused: the consumer is frozen (%s)", outcome)
}

// observeResolution reports each entry's outcome, once its access is recorded.
func (h *Resolver) observeResolution(entries []ManifestEntry) {
	if h.observer == nil {
		return
	}
	for _, e := range entries {
		source := e.Source
		if source == "" {
			source = SourceSecret
		}
		h.observer.Resolution(e.Outcome, source)
	}
}

// allPaths is what a resolution without paths asks for: every binding, and every plain
// env entry.
func (s consumerState) allPaths() []string {
	paths := make([]string, 0, len(s.bindings)+len(s.env))
	for p := range s.bindings {
		paths = append(paths, p)
	}
	for k, e := range s.env {
		if _, bound := s.bindings["env."+k]; e.Type == "plain" && !bound {
			paths = append(paths, "env."+k)
		}
	}
	sort.Strings(paths)
	return paths
}

// checkOne runs the checks of one config path in the documented order. When they pass
// it returns the provider read still to do (the outcome is then decided by readValues).
func checkOne(a actor.Actor, c Consumer, st consumerState, path string, secrets map[string]secretState) (ManifestEntry, *providers.VersionRequest) {
	e := ManifestEntry{ConfigPath: path, Outcome: BindingMissing, Required: true}
	if key, ok := strings.CutPrefix(path, "env."); ok {
		e.EnvKey = key
	}
	b, ok := st.bindings[path]
	if !ok {
		return checkPlain(c, st, e)
	}
	e.SecretID, e.Required = b.secretID, b.required
	sec := secrets[b.secretID] // zero (does not exist) when it is not there
	if sec.exists && !a.CanAccess(sec.companyID) {
		sec = secretState{}
	}
	e.SecretKey, e.Provider, e.vault = sec.key, sec.provider, sec.vaultID
	version := sec.latestVersion
	if b.selector != "latest" {
		version, _ = strconv.Atoi(b.selector)
	}
	e.Version = version
	v, ok := sec.versions[version]
	switch {
	case !sec.exists || sec.deleted:
		e.Outcome = SecretDeleted
	case sec.status != StatusActive:
		e.Outcome = SecretInactive
	case !ok:
		e.Outcome = VersionMissing
	case v.destroyed:
		e.Outcome = VersionInactive
	default:
		e.Outcome = ProviderError // until the read succeeds
		return e, &providers.VersionRequest{Ref: sec.ref(b.secretID, version),
			ProviderVersionRef: v.providerVersionRef}
	}
	return e, nil
}

// checkPlain settles a config path without a binding: a plain env entry ("env.<key>")
// is read like a secret, from the consumer's own encrypted env values; anything else is
// binding_missing.
func checkPlain(c Consumer, st consumerState, e ManifestEntry) (ManifestEntry, *providers.VersionRequest) {
	entry, ok := st.env[e.EnvKey]
	if e.EnvKey == "" || !ok || entry.Type != "plain" {
		return e, nil
	}
	e.Source, e.Provider = SourceInline, providers.LocalEncrypted
	if entry.Empty { // nothing stored: the value is ""
		e.Outcome = Resolved
		return e, nil
	}
	e.Outcome = ProviderError // until the read succeeds
	return e, &providers.VersionRequest{Ref: providers.Ref{CompanyID: c.CompanyID, SecretID: c.EnvSecretID()},
		ProviderVersionRef: entry.ProviderVersionRef}
}
