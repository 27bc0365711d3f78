package vaultfake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

func TestTokenMissingWrongRevokedExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	f.Write("", "secret", "k", map[string]any{"value": "v"})

	for name, tok := range map[string]string{"missing": "", "unknown": "hvs.nope"} {
		_, err := client(t, f, tok).KVv2("secret").Get(ctx, "k")
		wantStatus(t, err, http.StatusForbidden)
		if e := errorsOf(err); len(e) != 1 || e[0] != "permission denied" {
			t.Fatalf("%s token: errors %q", name, e)
		}
	}
	tok := f.AddToken(vaultfake.Policy{"secret/data/*": {"read"}}, time.Hour, true)
	c := client(t, f, tok)
	if _, err := c.KVv2("secret").Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	f.RevokeToken(tok)
	_, err := c.KVv2("secret").Get(ctx, "k")
	wantStatus(t, err, http.StatusForbidden)

	tok = f.AddToken(vaultfake.Policy{"secret/data/*": {"read"}}, time.Hour, true)
	f.ExpireToken(tok)
	_, err = client(t, f, tok).Auth().Token().LookupSelf()
	wantStatus(t, err, http.StatusForbidden)
}

func TestPolicyCapabilities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	f.Write("", "secret", "app/existing", map[string]any{"value": "v"})
	f.Write("", "secret", "app/secret/hidden", map[string]any{"value": "v"})
	tok := f.AddToken(vaultfake.Policy{
		"secret/data/app/*":          {"create", "read"},
		"secret/data/app/secret/*":   {"deny"},
		"secret/metadata/app/+/":     {"list"},
		"secret/metadata/app/":       {"list"},
		"secret/data/app/existing":   {"read", "update"},
		"secret/metadata/app/+":      {"read"},
		"secret/delete/app/existing": {"update"},
	}, time.Hour, false)
	kv := client(t, f, tok).KVv2("secret")

	if _, err := kv.Put(ctx, "app/new", map[string]any{"value": "x"}); err != nil {
		t.Fatalf("create under a create rule: %v", err)
	}
	// An existing key needs update: the glob grants only create.
	_, err := kv.Put(ctx, "app/new", map[string]any{"value": "y"})
	wantStatus(t, err, http.StatusForbidden)
	if _, err := kv.Put(ctx, "app/existing", map[string]any{"value": "y"}); err != nil {
		t.Fatalf("update under an exact rule: %v", err)
	}
	// The more specific deny wins over the broader glob.
	_, err = kv.Get(ctx, "app/secret/hidden")
	wantStatus(t, err, http.StatusForbidden)
	if _, err := kv.GetMetadata(ctx, "app/existing"); err != nil {
		t.Fatalf("metadata read under a + rule: %v", err)
	}
	_, err = kv.GetMetadata(ctx, "app/secret/hidden")
	wantStatus(t, err, http.StatusForbidden)
	if err := kv.DeleteVersions(ctx, "app/existing", []int{1}); err != nil {
		t.Fatalf("delete/ with update: %v", err)
	}
	err = kv.Delete(ctx, "app/existing")
	wantStatus(t, err, http.StatusForbidden)
}

func TestLookupSelfAndRenewSelf(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	clock := newClock()
	f.SetClock(clock.Now)
	tok := f.AddToken(vaultfake.Policy{"secret/data/*": {"read"}}, 100*time.Second, true)
	c := client(t, f, tok)

	s, err := c.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	ttl, _ := s.TokenTTL()
	renewable, _ := s.TokenIsRenewable()
	policies, _ := s.TokenPolicies()
	if id, _ := s.TokenID(); id != tok || ttl != 100*time.Second || !renewable || !slices.Contains(policies, "default") {
		t.Fatalf("lookup-self: ttl %v renewable %v policies %v", ttl, renewable, policies)
	}
	if _, ok := s.Data["expire_time"].(string); !ok {
		t.Fatalf("expire_time %v", s.Data["expire_time"])
	}

	clock.Add(90 * time.Second)
	r, err := c.Auth().Token().RenewSelf(0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Auth == nil || r.Auth.LeaseDuration != 100 || !r.Auth.Renewable || r.Auth.ClientToken != tok {
		t.Fatalf("renewal: %+v", r.Auth)
	}
	clock.Add(90 * time.Second)
	if r, err = c.Auth().Token().RenewSelf(100); err != nil || r.Auth.LeaseDuration != 100 || !r.Auth.Renewable {
		t.Fatalf("second renewal: %v %+v", err, r)
	}
	// The max TTL is 3× the first: at t=270s a renewal of 100s is capped at t=300s.
	clock.Add(90 * time.Second)
	r, err = c.Auth().Token().RenewSelf(100)
	if err != nil {
		t.Fatal(err)
	}
	if r.Auth.LeaseDuration != 30 || r.Auth.Renewable || len(r.Warnings) != 1 {
		t.Fatalf("capped renewal: %+v %q", r.Auth, r.Warnings)
	}
	clock.Add(30 * time.Second)
	_, err = c.Auth().Token().LookupSelf()
	wantStatus(t, err, http.StatusForbidden)
	if f.Calls("renew-self") != 3 || f.Calls("lookup-self") != 2 {
		t.Fatalf("calls renew %d lookup %d", f.Calls("renew-self"), f.Calls("lookup-self"))
	}

	// The root token never expires and is not renewable.
	root := client(t, f, f.RootToken())
	s, err = root.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatal(err)
	}
	if s.Data["expire_time"] != nil || s.Data["ttl"] != json.Number("0") {
		t.Fatalf("root lookup-self: %v", s.Data)
	}
	_, err = root.Auth().Token().RenewSelf(0)
	wantStatus(t, err, http.StatusBadRequest)
}
