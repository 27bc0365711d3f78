package vaultkv

import (
	"context"

	"github.com/hashicorp/vault/api"
)

// mountKind reads a mount's engine type and KV version from sys/internal/ui/mounts'
// answer ("" when absent).
func mountKind(sec *api.Secret) (typ, version string) {
	if sec == nil || sec.Data == nil {
		return "", ""
	}
	typ, _ = sec.Data["type"].(string)
	if opts, ok := sec.Data["options"].(map[string]any); ok {
		version, _ = opts["version"].(string)
	}
	return typ, version
}

// checkWritableMount makes sure, once per provider, that the mount is a KV version 2
// engine before anything is written: on a KV version 1 engine (or another engine) the
// KV v2 API's paths are plain keys, and a create would store the plaintext at
// "<mount>/data/<path>", unversioned and outside anything the ledger manages. The
// answer is read with the token the writes use (any token with a capability under the
// mount may read it); a failure to read it refuses the write like the write's own.
func (p *Provider) checkWritableMount(ctx context.Context, c *api.Client) error {
	if p.mountChecked.Load() {
		return nil
	}
	if err := p.readMount(ctx, c); err != nil {
		return err
	}
	p.mountChecked.Store(true)
	return nil
}

// CheckMount reads the mount's engine now: an error coded Invalid (invalid_request)
// when it is not a KV version 2 engine, the mapped error of the read when Vault did
// not answer it. The ledger calls it when a vault is configured, so that a mount that
// can never work is refused then rather than at the first write.
func (p *Provider) CheckMount(ctx context.Context) error {
	ctx, cancel, c, err := p.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return p.readMount(ctx, c)
}

// readMount reads sys/internal/ui/mounts/<mount> and refuses anything but KV version 2.
func (p *Provider) readMount(ctx context.Context, c *api.Client) error {
	sec, err := c.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+p.cfg.Mount)
	if err != nil {
		return p.mapError("mounts", err)
	}
	switch typ, version := mountKind(sec); {
	case typ != "kv" && typ != "generic":
		return providerErr("mounts", mapInvalid, 0, "the vault's mount is not a KV secrets engine; the vault provider "+
			"needs KV version 2 (vault secrets enable -path=<mount> kv-v2), and nothing was written")
	case version != "2":
		return providerErr("mounts", mapInvalid, 0, "the vault's mount is a KV version 1 engine; the vault provider "+
			"needs version 2 (vault kv enable-versioning <mount>), and nothing was written")
	}
	return nil
}
