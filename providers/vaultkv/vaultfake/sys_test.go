package vaultfake_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

func TestHealthStates(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	c := client(t, f, "")
	h, err := c.Sys().Health()
	if err != nil || !h.Initialized || h.Sealed || h.Standby || h.Version == "" {
		t.Fatalf("active: %v %+v", err, h)
	}
	f.Sealed(true)
	if h, err = c.Sys().Health(); err != nil || !h.Sealed {
		t.Fatalf("sealed: %v %+v", err, h)
	}
	f.Sealed(false)
	f.Standby(true)
	if h, err = c.Sys().Health(); err != nil || !h.Standby {
		t.Fatalf("standby: %v %+v", err, h)
	}

	// The raw status codes, and their query parameters.
	codes := []struct {
		set   func(bool)
		query string
		want  int
	}{
		{f.Standby, "", http.StatusTooManyRequests},
		{f.Standby, "?standbyok=true", http.StatusOK},
		{f.Standby, "?standbycode=299", 299},
		{f.Sealed, "", http.StatusServiceUnavailable},
		{f.Sealed, "?sealedcode=200", http.StatusOK},
		{f.PerformanceStandby, "", 473},
		{f.PerformanceStandby, "?perfstandbyok=true", http.StatusOK},
		{f.DRSecondary, "", 472},
		{f.Uninitialized, "", http.StatusNotImplemented},
		{func(bool) {}, "", http.StatusOK},
	}
	f.Standby(false)
	for _, tc := range codes {
		tc.set(true)
		resp, err := http.Get(f.URL() + "/v1/sys/health" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tc.set(false)
		if resp.StatusCode != tc.want {
			t.Errorf("health%s: %d, want %d", tc.query, resp.StatusCode, tc.want)
		}
	}
	if f.Calls("health") != 3+len(codes) {
		t.Fatalf("health calls %d", f.Calls("health"))
	}
}

func TestSealedAndStandbyRefuseCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	kv := client(t, f, f.RootToken()).KVv2("secret")
	f.Sealed(true)
	_, err := kv.Get(ctx, "k")
	if e := errorsOf(err); status(err) != http.StatusServiceUnavailable || len(e) != 1 || e[0] != "Vault is sealed" {
		t.Fatalf("sealed: %v", err)
	}
	f.Sealed(false)
	f.Standby(true)
	_, err = kv.Put(ctx, "k", map[string]any{"value": "v"})
	wantStatus(t, err, http.StatusServiceUnavailable)
	f.StandbyForwards(true)
	if _, err := kv.Put(ctx, "k", map[string]any{"value": "v"}); err != nil {
		t.Fatalf("standby that forwards: %v", err)
	}
}

func TestCapabilitiesSelf(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	tok := f.AddToken(vaultfake.Policy{
		"secret/data/paperclip/*":     {"create", "read", "update", "delete"},
		"secret/metadata/paperclip/*": {"list", "read", "delete"},
		"secret/data/paperclip/x":     {"deny"},
	}, time.Hour, true)
	c := client(t, f, tok)
	for path, want := range map[string][]string{
		"secret/data/paperclip/d/c/k": {"create", "delete", "read", "update"},
		"secret/metadata/paperclip/":  {"delete", "list", "read"},
		"secret/data/paperclip/x":     {"deny"},
		"secret/data/other":           {"deny"},
		"sys/capabilities-self":       {"update"},
	} {
		got, err := c.Sys().CapabilitiesSelf(path)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	got, err := client(t, f, f.RootToken()).Sys().CapabilitiesSelf("secret/data/x")
	if err != nil || !slices.Equal(got, []string{"root"}) {
		t.Fatalf("root: %v %q", err, got)
	}
	// Several paths at once, as Vault answers them: each at the top level and in data.
	s, err := c.Logical().Write("sys/capabilities-self", map[string]any{"paths": []string{"secret/data/paperclip/a", "secret/data/b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data["secret/data/paperclip/a"].([]any)) != 4 || s.Data["secret/data/b"].([]any)[0] != "deny" {
		t.Fatalf("several paths: %v", s.Data)
	}
	if f.Calls("capabilities") != 7 {
		t.Fatalf("capabilities calls %d", f.Calls("capabilities"))
	}
}

func TestUIMounts(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	f.Mount("", "legacy", 1)
	c := client(t, f, f.RootToken())
	for mount, version := range map[string]string{"secret": "2", "legacy": "1", "secret/data/a/b": "2"} {
		s, err := c.Logical().Read("sys/internal/ui/mounts/" + mount)
		if err != nil {
			t.Fatal(err)
		}
		opts := s.Data["options"].(map[string]any)
		if s.Data["type"] != "kv" || opts["version"] != version {
			t.Errorf("%s: %v", mount, s.Data)
		}
	}
	_, err := c.Logical().Read("sys/internal/ui/mounts/nomount")
	wantStatus(t, err, http.StatusForbidden)

	// The documented sys/mounts/<path> answers the same for a mount's exact path.
	s, err := c.Logical().Read("sys/mounts/legacy")
	if err != nil || s.Data["options"].(map[string]any)["version"] != "1" {
		t.Fatalf("sys/mounts/legacy: %v %+v", err, s)
	}
	_, err = c.Logical().Read("sys/mounts/secret/data")
	wantStatus(t, err, http.StatusBadRequest)

	// A token sees a mount it may use something under, not another.
	tok := f.AddToken(vaultfake.Policy{"secret/data/paperclip/*": {"read"}}, time.Hour, true)
	if _, err := client(t, f, tok).Logical().Read("sys/internal/ui/mounts/secret"); err != nil {
		t.Fatalf("mount with access: %v", err)
	}
	_, err = client(t, f, tok).Logical().Read("sys/internal/ui/mounts/legacy")
	wantStatus(t, err, http.StatusForbidden)
}

func TestFaultsAndSlowCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	kv := client(t, f, f.RootToken()).KVv2("secret")
	f.Write("", "secret", "k", map[string]any{"value": "v"})

	f.FailNext("data.read", http.StatusInternalServerError, 2)
	for range 2 {
		_, err := kv.Get(ctx, "k")
		if e := errorsOf(err); status(err) != http.StatusInternalServerError || len(e) != 1 || e[0] != "injected" {
			t.Fatalf("injected: %v", err)
		}
	}
	if _, err := kv.Get(ctx, "k"); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
	if f.Calls("data.read") != 3 {
		t.Fatalf("data.read calls %d", f.Calls("data.read"))
	}

	// A client that retries gets through a transient 503.
	retrying, err := api.NewClient(&api.Config{Address: f.URL(), MaxRetries: 2, MinRetryWait: time.Millisecond, MaxRetryWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	retrying.SetToken(f.RootToken())
	f.FailNext("metadata.read", http.StatusServiceUnavailable, 1)
	if _, err := retrying.KVv2("secret").GetMetadata(ctx, "k"); err != nil {
		t.Fatalf("retry over a 503: %v", err)
	}
	if f.Calls("metadata.read") != 2 {
		t.Fatalf("metadata.read calls %d", f.Calls("metadata.read"))
	}

	// A slow call outlasts the client's deadline.
	f.Slow("data.read", time.Minute, 1)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := kv.Get(short, "k"); err == nil {
		t.Fatal("a slow call beat a 50ms deadline")
	}
	if _, err := kv.Get(ctx, "k"); err != nil {
		t.Fatalf("after the slow call: %v", err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	f := vaultfake.NewTLS(t)
	cfg := api.DefaultConfig()
	cfg.Address = f.URL()
	if err := cfg.ConfigureTLS(&api.TLSConfig{CACertBytes: f.CACertPEM()}); err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(f.RootToken())
	if _, err := c.KVv2("secret").Put(context.Background(), "k", map[string]any{"value": "v"}); err != nil {
		t.Fatal(err)
	}
	// Without the CA the certificate is refused.
	plain := client(t, f, f.RootToken())
	if _, err := plain.KVv2("secret").Get(context.Background(), "k"); err == nil || status(err) != 0 {
		t.Fatalf("unverified TLS: %v", err)
	}
	// The same Vault over HTTPS beside a plain fake.
	p := vaultfake.New(t)
	secure := p.NewTLS(t)
	p.Write("", "secret", "shared", map[string]any{"value": "v"})
	if _, ok := secure.Secret("", "secret", "shared"); !ok {
		t.Fatal("the TLS server does not share the state")
	}
}
