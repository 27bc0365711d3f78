package vaultfake_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

func TestAppRoleLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	f.AddAppRole("role-1", "secret-1", vaultfake.Policy{"secret/data/paperclip/*": {"create", "read", "update"}}, time.Hour)
	c := client(t, f, "")

	for _, body := range []map[string]any{
		{"role_id": "role-1", "secret_id": "wrong"},
		{"role_id": "nope", "secret_id": "secret-1"},
		{"secret_id": "secret-1"},
	} {
		_, err := c.Logical().Write("auth/approle/login", body)
		wantStatus(t, err, http.StatusBadRequest)
	}
	s, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": "role-1", "secret_id": "secret-1"})
	if err != nil {
		t.Fatal(err)
	}
	a := s.Auth
	if a == nil || a.ClientToken == "" || a.Accessor == "" || a.LeaseDuration != 3600 || !a.Renewable || len(a.Policies) != 2 || len(a.TokenPolicies) != 2 {
		t.Fatalf("login answer: %+v", a)
	}
	c.SetToken(a.ClientToken)
	if _, err := c.KVv2("secret").Put(ctx, "paperclip/k", map[string]any{"value": "v"}); err != nil {
		t.Fatalf("write with the login's token: %v", err)
	}
	_, err = c.KVv2("secret").Put(ctx, "elsewhere", map[string]any{"value": "v"})
	wantStatus(t, err, http.StatusForbidden)
	if f.Calls("login.approle") != 4 {
		t.Fatalf("login.approle calls %d", f.Calls("login.approle"))
	}
}

func TestKubernetesLogin(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	f.AddKubernetesRole("ledger", "jwt-1", vaultfake.Policy{"secret/data/*": {"read"}}, 20*time.Minute)
	c := client(t, f, "")

	_, err := c.Logical().Write("auth/kubernetes/login", map[string]any{"role": "ledger", "jwt": "forged"})
	wantStatus(t, err, http.StatusForbidden)
	_, err = c.Logical().Write("auth/kubernetes/login", map[string]any{"role": "other", "jwt": "jwt-1"})
	wantStatus(t, err, http.StatusBadRequest)
	s, err := c.Logical().Write("auth/kubernetes/login", map[string]any{"role": "ledger", "jwt": "jwt-1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Auth == nil || s.Auth.LeaseDuration != 1200 || !s.Auth.Renewable || s.Auth.Metadata["role"] != "ledger" {
		t.Fatalf("login answer: %+v", s.Auth)
	}
	c.SetToken(s.Auth.ClientToken)
	look, err := c.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	if look.Data["path"] != "auth/kubernetes/login" {
		t.Fatalf("lookup-self of the login's token: %v", look.Data)
	}
	if f.Calls("login.kubernetes") != 3 {
		t.Fatalf("login.kubernetes calls %d", f.Calls("login.kubernetes"))
	}
}

func TestNamespaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	f.AddNamespace("team/app")
	f.Mount("team", "secret", 2)
	f.Mount("team/app", "kv", 2)
	f.Write("team", "secret", "k", map[string]any{"value": "team"})
	f.Write("", "secret", "k", map[string]any{"value": "root"})

	root := client(t, f, f.RootToken())
	inTeam := client(t, f, f.RootToken())
	inTeam.SetNamespace("team")
	s, err := inTeam.KVv2("secret").Get(ctx, "k")
	if err != nil || s.Data["value"] != "team" {
		t.Fatalf("header form: %v %+v", err, s)
	}
	if f.LastNamespace("data.read") != "team" {
		t.Fatalf("namespace seen %q", f.LastNamespace("data.read"))
	}
	// The path-prefix form addresses the same secret.
	if s, err := root.KVv2("team/secret").Get(ctx, "k"); err != nil || s.Data["value"] != "team" {
		t.Fatalf("path form: %v %+v", err, s)
	}
	if s, err := root.KVv2("secret").Get(ctx, "k"); err != nil || s.Data["value"] != "root" {
		t.Fatalf("root namespace: %v %+v", err, s)
	}
	// Header and path combine: team + app/kv.
	if _, err := inTeam.KVv2("app/kv").Put(ctx, "x", map[string]any{"value": "deep"}); err != nil {
		t.Fatal(err)
	}
	if st, ok := f.Secret("team/app", "kv", "x"); !ok || st.CurrentVersion != 1 {
		t.Fatalf("nested namespace write: %+v", st)
	}
	// An unknown namespace names no mount.
	unknown := client(t, f, f.RootToken())
	unknown.SetNamespace("nope")
	if _, err := unknown.KVv2("secret").Get(ctx, "k"); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("unknown namespace: %v", err)
	}
	resp, err := unknown.Logical().ReadRawWithData("secret/data/k", nil)
	if err == nil {
		resp.Body.Close()
	}
	if e := errorsOf(err); status(err) != http.StatusNotFound || len(e) != 1 || e[0] != `no handler for route "nope/secret/data/k". route entry not found.` {
		t.Fatalf("unknown namespace, raw: %v", err)
	}

}

func TestNamespacedTokensAndLogins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	f.AddNamespace("team/app")
	f.Mount("team", "secret", 2)
	f.Mount("team/app", "kv", 2)
	f.Write("team", "secret", "k", map[string]any{"value": "team"})
	f.Write("team/app", "kv", "x", map[string]any{"value": "deep"})

	// A token of namespace team works in team and its children, not in root; its policy
	// paths are relative to team, and a child's paths carry the child's name.
	tok := f.AddTokenIn("team", vaultfake.Policy{"secret/data/*": {"read"}, "app/kv/data/*": {"read"}}, time.Hour, true)
	teamTok := client(t, f, tok)
	teamTok.SetNamespace("team")
	if _, err := teamTok.KVv2("secret").Get(ctx, "k"); err != nil {
		t.Fatalf("namespaced token in its namespace: %v", err)
	}
	child := client(t, f, tok)
	child.SetNamespace("team/app")
	if _, err := child.KVv2("kv").Get(ctx, "x"); err != nil {
		t.Fatalf("namespaced token in a child: %v", err)
	}
	_, err := client(t, f, tok).KVv2("secret").Get(ctx, "k")
	wantStatus(t, err, http.StatusForbidden)

	// Logins happen in the namespace of the request.
	f.AddAppRoleIn("team", "r", "s", vaultfake.Policy{"secret/data/*": {"read"}}, time.Hour)
	login := client(t, f, "")
	_, err = login.Logical().Write("auth/approle/login", map[string]any{"role_id": "r", "secret_id": "s"})
	wantStatus(t, err, http.StatusBadRequest)
	login.SetNamespace("team")
	ls, err := login.Logical().Write("auth/approle/login", map[string]any{"role_id": "r", "secret_id": "s"})
	if err != nil {
		t.Fatal(err)
	}
	login.SetToken(ls.Auth.ClientToken)
	if s, err := login.KVv2("secret").Get(ctx, "k"); err != nil || s.Data["value"] != "team" {
		t.Fatalf("namespaced login's token: %v %+v", err, s)
	}
	look, err := login.Auth().Token().LookupSelf()
	if err != nil || look.Data["namespace_path"] != "team/" {
		t.Fatalf("namespaced lookup-self: %v %v", err, look)
	}
}
