package doctor

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

// vault reports the health of the deployment's Vault session when it has one (the
// server reachable and unsealed, the login, the KV v2 mount, the capabilities on the
// deployment's managed root), whatever the default provider: companies' vault vaults use
// the same session. Findings and details hold no token and no credential file's content.
func (r *checker) vault(ctx context.Context) {
	cfg := r.in.Config
	if !cfg.Vault.Configured() {
		return
	}
	s, err := app.NewVaultSession(cfg)
	if err != nil {
		r.report(instance.Finding{Message: "vault: " + err.Error()})
		return
	}
	defer s.Close()
	// doctor writes nothing: no value is ever fingerprinted here.
	p, err := vaultkv.New(app.VaultDefaults(cfg, nil, func(string, providers.Value) string { return "" }), s)
	if err != nil {
		r.report(instance.Finding{Message: "vault: " + err.Error()})
		return
	}
	defer p.Close()
	h := p.Health(ctx)
	msg := "vault: " + strings.Join(h.All(), "; ")
	if len(h.All()) == 0 {
		msg = "vault: ok"
	}
	r.report(instance.Finding{OK: h.OK, Message: msg})
}
