package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// healthTimeout bounds a whole health check.
const healthTimeout = 20 * time.Second

// HealthDetails is what a health check of the provider found. Findings are safe for any
// operator of a company that uses the provider (what is wrong and how to fix it, no
// address); the rest describes the instance and is for its operators only. No token.
type HealthDetails struct {
	// The session's: the server's origin, the session's namespace and auth method.
	Address          string
	SessionNamespace string
	AuthMethod       string
	// The provider's own configuration.
	Namespace    string
	Mount        string
	Prefix       string
	DeploymentID string
	ManagedRoot  string
	// What the server said (sys/health).
	ServerVersion      string
	Standby            bool
	PerformanceStandby bool
	// The token's remaining TTL (0 with TokenExpires false: it never expires).
	TokenChecked   bool
	TokenTTL       time.Duration
	TokenExpires   bool
	TokenRenewable bool
	// Findings say why the provider does not work; empty when it does.
	Findings []string
}

// OK says the provider works.
func (d HealthDetails) OK() bool { return len(d.Findings) == 0 }

// Health is the providers.Health of d: findings as findings, the rest as details.
func (d HealthDetails) Health() providers.Health {
	h := providers.Health{Provider: providers.HashiCorpVault, OK: d.OK(), Findings: append([]string(nil), d.Findings...)}
	h.Details = append(h.Details, "address "+d.Address)
	if d.SessionNamespace != "" {
		h.Details = append(h.Details, "auth namespace "+d.SessionNamespace)
	}
	h.Details = append(h.Details, "auth method "+d.AuthMethod)
	h.Details = append(h.Details, d.summary(true))
	if d.ServerVersion != "" {
		node := "active node"
		switch {
		case d.PerformanceStandby:
			node = "performance standby"
		case d.Standby:
			node = "standby"
		}
		h.Details = append(h.Details, fmt.Sprintf("server version %s (%s)", d.ServerVersion, node))
	}
	if d.TokenChecked {
		h.Details = append(h.Details, "token "+d.tokenText())
	}
	return h
}

func (d HealthDetails) tokenText() string {
	if !d.TokenExpires {
		return "does not expire"
	}
	renew := "not renewable"
	if d.TokenRenewable {
		renew = "renewable"
	}
	return fmt.Sprintf("ttl %s, %s", d.TokenTTL.Round(time.Second), renew)
}

// summary is the provider's configuration in words; the managed root names the
// deployment (or vault) id and the prefix only when ownPrefix.
func (d HealthDetails) summary(ownPrefix bool) string {
	ns := "the auth namespace"
	if d.Namespace != "" {
		ns = "namespace " + d.Namespace
	}
	root := "deployment " + d.DeploymentID + " under the instance's default prefix"
	if ownPrefix {
		root = "managed root " + d.ManagedRoot
	}
	return fmt.Sprintf("%s, mount %s, %s", ns, d.Mount, root)
}

// VaultMap is the part of the details that a vault's own configuration decides, under
// the names of its configuration (namespace, mountPath, secretPathPrefix when
// ownPrefix, deploymentId): what a health check of a company's vault records in that
// company's log. The server's address and the auth method are the instance's, left out.
func (d HealthDetails) VaultMap(ownPrefix bool) map[string]any {
	m := map[string]any{"namespace": d.Namespace, "mountPath": d.Mount, "deploymentId": d.DeploymentID}
	if ownPrefix {
		m["secretPathPrefix"] = d.Prefix
	}
	return m
}

// VaultSummary is VaultMap in words.
func (d HealthDetails) VaultSummary(ownPrefix bool) string { return d.summary(ownPrefix) }

// Health implements providers.Provider from HealthDetails.
func (p *Provider) Health(ctx context.Context) providers.Health {
	return p.HealthDetails(ctx).Health()
}

// HealthDetails checks, each a finding when it fails: the server (sys/health: sealed or
// not initialised is fatal, a standby is fine), the session's login and its token
// (lookup-self), the mount (a KV version 2 engine) and the token's capabilities on the
// managed path. A check that cannot run after a failure is skipped.
func (p *Provider) HealthDetails(ctx context.Context) HealthDetails {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	d := HealthDetails{Namespace: p.cfg.Namespace, Mount: p.cfg.Mount, Prefix: p.cfg.Prefix,
		DeploymentID: p.cfg.DeploymentID, ManagedRoot: ManagedRoot(p.cfg.Prefix, p.cfg.DeploymentID)}
	if p.s == nil {
		d.Findings = append(d.Findings, "the vault provider has no session: the deployment's vault settings are missing")
		return d
	}
	d.Address, d.SessionNamespace, d.AuthMethod = p.s.Address(), p.s.Namespace(), p.s.AuthMethod()
	for _, check := range []func(context.Context, *HealthDetails) bool{p.checkServer, p.checkToken, p.checkMount, p.checkCapabilities} {
		if !check(ctx, &d) {
			break
		}
	}
	return d
}

// checkServer reads sys/health (unauthenticated, in the root namespace).
func (p *Provider) checkServer(ctx context.Context, d *HealthDetails) bool {
	hr, err := p.s.anon.WithNamespace("").Sys().HealthWithContext(ctx)
	if err != nil {
		d.Findings = append(d.Findings, p.healthError("sys/health", err, "the Vault server did not answer its health check"))
		return false
	}
	d.ServerVersion, d.Standby, d.PerformanceStandby = hr.Version, hr.Standby, hr.PerformanceStandby
	switch {
	case !hr.Initialized:
		d.Findings = append(d.Findings, "the Vault server is not initialised (vault operator init)")
		return false
	case hr.Sealed:
		d.Findings = append(d.Findings, "the Vault server is sealed (unseal it: vault operator unseal)")
		return false
	}
	return true
}

// checkToken logs in (when the session has no token) and looks the token up.
func (p *Provider) checkToken(ctx context.Context, d *HealthDetails) bool {
	c, err := p.s.client(ctx)
	if err != nil {
		finding := "login with the " + d.AuthMethod + " auth method failed: " + ledgererr.MessageOf(err)
		if d.Standby && !d.PerformanceStandby && ledgererr.CodeOf(err) == ledgererr.Unavailable {
			finding += " (the server is a standby that does not forward requests: point " + EnvAddr +
				" at the active node or a load balancer in front of the cluster)"
		}
		d.Findings = append(d.Findings, finding)
		return false
	}
	st, err := p.s.lookup(ctx, c)
	if err != nil {
		if ledgererr.CodeOf(err) == ledgererr.Forbidden {
			p.s.invalidate(c.Token())
			d.Findings = append(d.Findings, "Vault refused the token of the "+d.AuthMethod+
				" auth method (auth/token/lookup-self: permission denied): it may have been revoked; the next call logs in again")
		} else {
			d.Findings = append(d.Findings, "the token of the "+d.AuthMethod+" auth method could not be checked: "+ledgererr.MessageOf(err))
		}
		return false
	}
	d.TokenChecked, d.TokenTTL, d.TokenExpires, d.TokenRenewable = true, st.lease, st.lease > 0, st.renewable
	return true
}

// checkMount reads the mount's type and options (sys/internal/ui/mounts/<mount>), which
// any token with a capability under the mount may read.
func (p *Provider) checkMount(ctx context.Context, d *HealthDetails) bool {
	c, err := p.s.client(ctx)
	if err != nil {
		d.Findings = append(d.Findings, ledgererr.MessageOf(err))
		return false
	}
	c = p.namespaced(c)
	m := p.cfg.Mount
	missing := fmt.Sprintf("mount %s was not found, or the ledger's token may use nothing under it: enable it "+
		"(vault secrets enable -path=%s kv-v2) and grant the ledger's policy the managed path", m, m)
	sec, err := c.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+m)
	if err != nil {
		cl := classifyVault(err)
		if cl.status == http.StatusForbidden || cl.status == http.StatusBadRequest || cl.status == http.StatusNotFound {
			p.log.Warn("vault mount check refused", "mount", m, "status", cl.status, "err", err)
			d.Findings = append(d.Findings, missing)
		} else {
			d.Findings = append(d.Findings, p.healthError("mounts", err, "the mount "+m+" could not be checked"))
		}
		return false
	}
	if sec == nil || sec.Data == nil {
		d.Findings = append(d.Findings, missing)
		return false
	}
	switch typ, version := mountKind(sec); {
	case typ != "kv" && typ != "generic":
		d.Findings = append(d.Findings, fmt.Sprintf("mount %s is not a KV secrets engine; the vault provider needs KV version 2 "+
			"(vault secrets enable -path=<mount> kv-v2, then set the vault's mountPath)", m))
		return false
	case version != "2":
		d.Findings = append(d.Findings, fmt.Sprintf("mount %s is a KV version 1 engine; the vault provider needs version 2 "+
			"(vault kv enable-versioning %s)", m, m))
		return false
	}
	return true
}

// neededCapabilities is what the provider does under its managed root, by API path.
var neededCapabilities = []struct {
	api  string
	caps []string
}{
	{"data", []string{"create", "read", "update"}},
	{"metadata", []string{"read", "update", "delete", "list"}},
	{"delete", []string{"update"}},
	{"undelete", []string{"update"}},
	{"destroy", []string{"update"}},
}

// checkCapabilities asks Vault what the token may do (sys/capabilities-self) on a
// managed secret's paths (<root>x/x: a company and a key under the managed root, so that
// a policy written with "+" segments is checked as the provider uses it).
func (p *Provider) checkCapabilities(ctx context.Context, d *HealthDetails) bool {
	c, err := p.s.client(ctx)
	if err != nil {
		d.Findings = append(d.Findings, ledgererr.MessageOf(err))
		return false
	}
	c = p.namespaced(c)
	paths := make([]string, len(neededCapabilities))
	for i, n := range neededCapabilities {
		paths[i] = p.cfg.Mount + "/" + n.api + "/" + d.ManagedRoot + "x/x"
	}
	sec, err := c.Logical().WriteWithContext(ctx, "sys/capabilities-self", map[string]any{"paths": paths})
	if err == nil && (sec == nil || sec.Data == nil) {
		err = errors.New("capabilities-self answered no data")
	}
	if err != nil {
		d.Findings = append(d.Findings, p.healthError("capabilities", err, "the token's capabilities on the managed path could not be checked"))
		return false
	}
	var lacking []string
	for i, n := range neededCapabilities {
		missing := missingCapabilities(capabilityList(sec.Data[paths[i]]), n.caps)
		if len(missing) > 0 {
			pattern := p.cfg.Mount + "/" + n.api + "/" + d.ManagedRoot + "*"
			lacking = append(lacking, pattern+": "+strings.Join(missing, ", "))
		}
	}
	if len(lacking) > 0 {
		d.Findings = append(d.Findings, "the ledger's Vault token lacks capabilities on the managed path ("+
			strings.Join(lacking, "; ")+"); grant them in the policy of the "+d.AuthMethod+" auth method's role or token")
		return false
	}
	return true
}

// capabilityList reads one path's capabilities from capabilities-self's answer.
func capabilityList(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// missingCapabilities is what of need have does not grant ("root" grants everything,
// "deny" nothing), sorted.
func missingCapabilities(have, need []string) []string {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	if set["deny"] {
		return append([]string(nil), need...)
	}
	if set["root"] {
		return nil
	}
	var out []string
	for _, n := range need {
		if !set[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// namespaced is c in the provider's namespace (the session's when it has none).
func (p *Provider) namespaced(c *api.Client) *api.Client {
	if p.cfg.Namespace != "" {
		return c.WithNamespace(p.cfg.Namespace)
	}
	return c
}

// healthError is the finding of a failed health call: what failed and the advice for
// its class (the raw error goes to the log). A 403 means the token was refused: the
// session checks it at the next call.
func (p *Provider) healthError(op string, err error, what string) string {
	c := classifyVault(err)
	p.log.Warn("vault health check failed", "op", op, "provider_code", c.provider, "status", c.status, "err", err)
	switch {
	case c.status == 0:
		if hint := c.transportHint(); hint != "" {
			return what + ": " + hint
		}
	case c.status == http.StatusForbidden:
		return what + ": Vault refused the token of the " + p.s.AuthMethod() + " auth method (permission denied)"
	case c.status == http.StatusServiceUnavailable:
		return what + ": the Vault server is sealed or unavailable"
	case c.status == http.StatusTooManyRequests:
		return what + ": Vault is rate limiting the ledger; retry later"
	case c.status >= 500:
		return what + ": the Vault server failed to answer"
	}
	return what + ": Vault answered with status " + http.StatusText(c.status)
}
