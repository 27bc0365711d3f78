package vaultkv

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/secretsledger/secretsledger/providers"
)

// Resolve implements providers.Provider: the exact KV version of a managed secret
// (GET <mount>/data/<path>?version=N), through the value cache. An external reference
// is read at its pinned version, or at the latest when it has none (resolveExternal).
// A version deleted or destroyed at Vault is a not_found error.
func (p *Provider) Resolve(ctx context.Context, ref providers.Ref, providerVersionRef string) (providers.Value, error) {
	if ref.ExternalRef != "" {
		return p.resolveExternal(ctx, ref.ExternalRef, providerVersionRef)
	}
	path, err := p.managedPath(ref)
	if err != nil {
		return providers.Value{}, err
	}
	n, ok := parseVersion(providerVersionRef)
	if !ok {
		return providers.Value{}, notFound("data.read", "the version has no KV version number")
	}
	k := p.key(path, n)
	if v, ok := p.cache.get(k); ok {
		return v, nil
	}
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return providers.Value{}, err
	}
	defer cancel()
	kv, err := p.readVersion(ctx, c, path, n)
	if err != nil {
		return providers.Value{}, err
	}
	v, ok := managedValue(kv.Data)
	if !ok {
		p.log.Warn("a managed vault version holds no ledger payload", "version", n)
		return providers.Value{}, providerErr("data.read", mapProviderError, 0,
			"the managed secret's KV version does not hold the ledger's {\"value\": \"...\"} payload")
	}
	p.cache.put(k, v)
	return v, nil
}

// resolveExternal reads an external reference: its pinned KV version, or the latest one
// when it is not pinned. Only pinned versions are cached: the latest of a path the
// ledger does not own moves whenever its owner writes it, and the next resolution must
// see that.
func (p *Provider) resolveExternal(ctx context.Context, externalRef, versionRef string) (providers.Value, error) {
	if err := p.CheckExternalRef(externalRef); err != nil {
		p.log.Warn("vault guardrail refused an external reference read")
		return providers.Value{}, err
	}
	n := 0
	if versionRef != "" {
		var ok bool
		if n, ok = parseVersion(versionRef); !ok {
			return providers.Value{}, invalid("the external reference's version is not a KV version number")
		}
		if v, ok := p.cache.get(p.key(externalRef, n)); ok {
			return v, nil
		}
	}
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return providers.Value{}, err
	}
	defer cancel()
	kv, err := p.readVersion(ctx, c, externalRef, n)
	if err != nil {
		return providers.Value{}, err
	}
	v, err := externalValue(kv.Data)
	if err != nil {
		return providers.Value{}, p.mapError("data.read", err)
	}
	if n > 0 {
		p.cache.put(p.key(externalRef, n), v)
	}
	return v, nil
}

// externalValue is the value of an external secret's KV data: data["value"] when it is
// a string; else, when the data has exactly one key with a string value, that value;
// else the JSON of the whole data object.
func externalValue(data map[string]any) (providers.Value, error) {
	if s, ok := data[fieldValue].(string); ok {
		return providers.NewValue([]byte(s)), nil
	}
	if len(data) == 1 {
		for _, x := range data {
			if s, ok := x.(string); ok {
				return providers.NewValue([]byte(s)), nil
			}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		return providers.Value{}, err
	}
	return providers.NewValue(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}
