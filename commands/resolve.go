package commands

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Resolution outcomes, in the order they are checked.
// WARNING: persisted in secret.accessed events.
const (
	Resolved        = "resolved"
	BindingMissing  = "binding_missing"
	SecretDeleted   = "secret_deleted"
	SecretInactive  = "secret_inactive"
	VersionMissing  = "version_missing"
	VersionInactive = "version_inactive"
	ProviderError   = "provider_error"
)

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
}

// Resolution is what an agent receives. Values are redacted types; only the HTTP
// response writer reveals them.
type Resolution struct {
	Env      map[string]providers.Value
	Values   map[string]providers.Value
	Manifest []ManifestEntry
	Position int64
}

// ResolveValues runs Resolve for an agent key. Every attempt on a binding (and every
// requested path without one) is appended as a secret.accessed event before any value
// leaves: if that append fails, no value is returned.
func (h *Secrets) ResolveValues(ctx context.Context, req Request, r Resolve) (Resolution, error) {
	a := req.Actor
	if a.Type != actor.Agent || len(a.Companies) != 1 {
		return Resolution{}, ledgererr.New(ledgererr.Forbidden, "runtime resolution is for agent keys")
	}
	c := Consumer{CompanyID: a.Companies[0], TargetType: a.TargetType, TargetID: a.TargetID}
	st, err := h.loadConsumer(ctx, c)
	if err != nil {
		return Resolution{}, err
	}
	paths := r.ConfigPaths
	if len(paths) == 0 {
		for p := range st.bindings {
			paths = append(paths, p)
		}
		sort.Strings(paths)
	}
	out := Resolution{Env: map[string]providers.Value{}, Values: map[string]providers.Value{}}
	var ids []string
	for _, path := range paths {
		if b, ok := st.bindings[path]; ok {
			ids = append(ids, b.secretID)
		}
	}
	secrets, err := h.loadSecrets(ctx, ids)
	if err != nil {
		return Resolution{}, err
	}
	entries := make([]ManifestEntry, len(paths))
	reads := map[int]providers.VersionRequest{} // entry index → provider read still to do
	for i, path := range paths {
		var read *providers.VersionRequest
		entries[i], read = h.checkOne(a, st, path, secrets)
		if read != nil {
			reads[i] = *read
		}
	}
	values := h.readValues(ctx, c.CompanyID, entries, reads)
	var accessEvents []eventstore.EventData
	var failed []string
	for i, entry := range entries {
		path := entry.ConfigPath
		out.Manifest = append(out.Manifest, entry)
		evt, err := events.New(events.SecretAccessed, c.CompanyID, events.SecretAccessedV1{SecretID: entry.SecretID,
			Version: entry.Version, TargetType: c.TargetType, TargetID: c.TargetID, ConfigPath: path,
			RunID: r.RunID, IssueID: r.IssueID, Outcome: entry.Outcome}, req.metadata())
		if err != nil {
			return Resolution{}, err
		}
		accessEvents = append(accessEvents, evt)
		switch {
		case entry.Outcome == Resolved:
			out.Values[path] = values[i]
			if entry.EnvKey != "" {
				out.Env[entry.EnvKey] = values[i]
			}
		case entry.Required:
			failed = append(failed, path+": "+entry.Outcome)
		}
	}
	if err := h.plainEnv(ctx, c, st, r.ConfigPaths, out.Env); err != nil {
		return Resolution{}, err
	}
	if h.beforeAccessRecorded != nil {
		h.beforeAccessRecorded()
	}
	if len(accessEvents) > 0 {
		res, err := h.Log.AppendIdempotent(ctx, nil, events.AccessStream(c.CompanyID, c.TargetType, c.TargetID),
			eventstore.AnyVersion, accessEvents...)
		if err != nil {
			return Resolution{}, ledgererr.Wrap(err, ledgererr.Unavailable, "the access could not be recorded, so no value is returned; retry")
		}
		out.Position = res.LastPosition
	}
	if len(failed) > 0 {
		return Resolution{}, ledgererr.New(ledgererr.Invalid, "resolution failed: %s", strings.Join(failed, "; "))
	}
	return out, nil
}

// checkOne runs the checks of one config path in the documented order. When they pass
// it returns the provider read still to do (the outcome is then decided by readValues).
func (h *Secrets) checkOne(a actor.Actor, st consumerState, path string, secrets map[string]secretState) (ManifestEntry, *providers.VersionRequest) {
	e := ManifestEntry{ConfigPath: path, Outcome: BindingMissing, Required: true}
	if key, ok := strings.CutPrefix(path, "env."); ok {
		e.EnvKey = key
	}
	b, ok := st.bindings[path]
	if !ok {
		return e, nil
	}
	e.SecretID, e.Required = b.secretID, b.required
	sec := secrets[b.secretID] // zero (does not exist) when it is not there
	if sec.exists && !a.CanAccess(sec.companyID) {
		sec = secretState{}
	}
	e.SecretKey, e.Provider = sec.key, sec.provider
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
		return e, &providers.VersionRequest{Ref: providers.Ref{CompanyID: sec.companyID, SecretID: b.secretID, Version: version},
			ProviderVersionRef: v.providerVersionRef}
	}
	return e, nil
}

// readValues performs the provider reads, batched per provider where it can, and marks
// each entry resolved or provider_error.
func (h *Secrets) readValues(ctx context.Context, companyID string, entries []ManifestEntry, reads map[int]providers.VersionRequest) map[int]providers.Value {
	values := map[int]providers.Value{}
	byProvider := map[string][]int{}
	for i := range reads {
		byProvider[entries[i].Provider] = append(byProvider[entries[i].Provider], i)
	}
	for id, idx := range byProvider {
		p, err := h.provider(id)
		if err != nil {
			continue // provider_error
		}
		reqs := make([]providers.VersionRequest, len(idx))
		for j, i := range idx {
			reqs[j] = reads[i]
		}
		var results []providers.Resolved
		if br, ok := p.(providers.BatchResolver); ok {
			results = br.ResolveMany(ctx, companyID, reqs)
		} else {
			for _, rq := range reqs {
				v, err := p.Resolve(ctx, rq.Ref, rq.ProviderVersionRef)
				results = append(results, providers.Resolved{Value: v, Err: err})
			}
		}
		for j, i := range idx {
			if results[j].Err == nil {
				entries[i].Outcome = Resolved
				values[i] = results[j].Value
			}
		}
	}
	return values
}

// plainEnv decrypts the consumer's plain env values into env (only those asked for,
// when paths were given).
func (h *Secrets) plainEnv(ctx context.Context, c Consumer, st consumerState, paths []string, env map[string]providers.Value) error {
	wanted := func(k string) bool {
		if len(paths) == 0 {
			return true
		}
		for _, p := range paths {
			if p == "env."+k {
				return true
			}
		}
		return false
	}
	local, err := h.provider(providers.LocalEncrypted)
	if err != nil {
		return err
	}
	for k, entry := range st.env {
		if entry.Type != "plain" || !wanted(k) {
			continue
		}
		if entry.Empty {
			env[k] = providers.NewValue(nil)
			continue
		}
		v, err := local.Resolve(ctx, providers.Ref{CompanyID: c.CompanyID, SecretID: c.EnvSecretID()}, entry.ProviderVersionRef)
		if err != nil {
			return ledgererr.Wrap(err, ledgererr.Unavailable, "the plain env value %s cannot be read", k)
		}
		env[k] = v
	}
	return nil
}
