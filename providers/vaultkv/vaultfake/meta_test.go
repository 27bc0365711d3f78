package vaultfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

func TestKV2MetadataAndCustomMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	c := client(t, f, f.RootToken())
	kv := c.KVv2("secret")

	// Metadata may exist before any version: current_version 0, cas 0 writes.
	custom := map[string]any{"paperclip:managed-by": "paperclip", "paperclip:company-id": "c1"}
	if err := kv.PutMetadata(ctx, "m", api.KVMetadataPutInput{MaxVersions: 5, CASRequired: true, CustomMetadata: custom}); err != nil {
		t.Fatal(err)
	}
	md, err := kv.GetMetadata(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if md.CurrentVersion != 0 || md.MaxVersions != 5 || !md.CASRequired || md.CustomMetadata["paperclip:company-id"] != "c1" || len(md.Versions) != 0 {
		t.Fatalf("metadata before data: %+v", md)
	}
	s, err := kv.Put(ctx, "m", map[string]any{"value": "v"}, api.WithCheckAndSet(0))
	if err != nil {
		t.Fatal(err)
	}
	if s.VersionMetadata.Version != 1 || s.CustomMetadata["paperclip:managed-by"] != "paperclip" {
		t.Fatalf("write answer: %+v %v", s.VersionMetadata, s.CustomMetadata)
	}
	if got, err := kv.Get(ctx, "m"); err != nil || got.CustomMetadata["paperclip:company-id"] != "c1" {
		t.Fatalf("custom metadata on a data read: %v %+v", err, got)
	}

	// The raw metadata answer has Vault's fields and types.
	raw, err := c.Logical().Read("secret/metadata/m")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cas_required", "created_time", "current_version", "custom_metadata", "delete_version_after",
		"max_versions", "oldest_version", "updated_time", "versions"} {
		if _, ok := raw.Data[k]; !ok {
			t.Errorf("metadata lacks %q: %v", k, raw.Data)
		}
	}
	if raw.Data["delete_version_after"] != "0s" || raw.Data["oldest_version"] != json.Number("0") {
		t.Fatalf("metadata values: %v", raw.Data)
	}
	v1 := raw.Data["versions"].(map[string]any)["1"].(map[string]any)
	if v1["deletion_time"] != "" || v1["destroyed"] != false {
		t.Fatalf("version entry: %v", v1)
	}

	// Patch merges custom metadata key by key; put replaces it as a whole.
	if err := kv.PatchMetadata(ctx, "m", api.KVMetadataPatchInput{CustomMetadata: map[string]any{"extra": "1"}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Secret("", "secret", "m"); len(st.CustomMetadata) != 3 || st.MaxVersions != 5 {
		t.Fatalf("after patch: %+v", st)
	}
	if err := kv.PutMetadata(ctx, "m", api.KVMetadataPutInput{CustomMetadata: map[string]any{"only": "this"}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Secret("", "secret", "m"); len(st.CustomMetadata) != 1 || st.MaxVersions != 0 || st.CASRequired {
		t.Fatalf("after put: %+v", st)
	}
	if err := kv.PatchMetadata(ctx, "nothing", api.KVMetadataPatchInput{CustomMetadata: map[string]any{"a": "b"}}); status(err) != http.StatusNotFound {
		t.Fatalf("patching missing metadata: %v", err)
	}
	if f.Calls("metadata.write") != 2 || f.Calls("metadata.patch") != 2 || f.Calls("metadata.read") != 2 {
		t.Fatalf("calls: write %d patch %d read %d", f.Calls("metadata.write"), f.Calls("metadata.patch"), f.Calls("metadata.read"))
	}
}

func TestKV2DeleteVersionAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	clock := newClock()
	f.SetClock(clock.Now)
	kv := client(t, f, f.RootToken()).KVv2("secret")
	if err := kv.PutMetadata(ctx, "k", api.KVMetadataPutInput{DeleteVersionAfter: time.Minute}); err != nil {
		t.Fatal(err)
	}
	s, err := kv.Put(ctx, "k", map[string]any{"value": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.VersionMetadata.DeletionTime.Equal(clock.Now().Add(time.Minute).UTC().Truncate(time.Nanosecond)) {
		t.Fatalf("deletion time %v", s.VersionMetadata.DeletionTime)
	}
	if got, err := kv.Get(ctx, "k"); err != nil || got.Data["value"] != "v" {
		t.Fatalf("before the deletion time: %v %+v", err, got)
	}
	clock.Add(time.Minute)
	if got, err := kv.Get(ctx, "k"); err != nil || got.Data != nil {
		t.Fatalf("after the deletion time: %v %+v", err, got)
	}
}

func TestKV2Patch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	kv := client(t, f, f.RootToken()).KVv2("secret")
	if _, err := kv.Put(ctx, "p", map[string]any{"a": "1", "b": "2", "n": map[string]any{"x": "1"}}); err != nil {
		t.Fatal(err)
	}
	s, err := kv.Patch(ctx, "p", map[string]any{"b": nil, "c": "3", "n": map[string]any{"y": "2"}}, api.WithCheckAndSet(1))
	if err != nil {
		t.Fatal(err)
	}
	if s.VersionMetadata.Version != 2 {
		t.Fatalf("patch answer %+v", s.VersionMetadata)
	}
	got, err := kv.Get(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	n := got.Data["n"].(map[string]any)
	if got.Data["a"] != "1" || got.Data["b"] != nil || got.Data["c"] != "3" || n["x"] != "1" || n["y"] != "2" {
		t.Fatalf("patched data %v", got.Data)
	}
	if _, err := kv.Patch(ctx, "p", map[string]any{"a": "9"}, api.WithCheckAndSet(1)); status(err) != http.StatusBadRequest {
		t.Fatalf("patch with a stale cas: %v", err)
	}
	if _, err := kv.Patch(ctx, "missing", map[string]any{"a": "1"}); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("patch of a missing key: %v", err)
	}
	if f.Calls("data.patch") != 3 {
		t.Fatalf("data.patch calls %d", f.Calls("data.patch"))
	}
}

func TestKV2List(t *testing.T) {
	t.Parallel()
	f := vaultfake.New(t)
	c := client(t, f, f.RootToken())
	for _, p := range []string{"apps/billing/stripe", "apps/billing/paypal", "apps/web", "apps/deep/a/b", "top"} {
		f.Write("", "secret", p, map[string]any{"value": "x"})
	}
	f.DeleteVersions("", "secret", "apps/web") // soft-deleted keys are still listed
	cases := map[string][]string{
		"secret/metadata":               {"apps/", "top"},
		"secret/metadata/":              {"apps/", "top"},
		"secret/metadata/apps":          {"billing/", "deep/", "web"},
		"secret/metadata/apps/billing/": {"paypal", "stripe"},
	}
	for path, want := range cases {
		s, err := c.Logical().List(path)
		if err != nil {
			t.Fatalf("list %s: %v", path, err)
		}
		var got []string
		for _, k := range s.Data["keys"].([]any) {
			got = append(got, k.(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("list %s: %q, want %q", path, got, want)
		}
	}
	// Nothing under a path: 404, which the client answers as nil.
	if s, err := c.Logical().List("secret/metadata/nothing"); err != nil || s != nil {
		t.Fatalf("empty list: %v %v", s, err)
	}
	// The method LIST works too.
	req, _ := http.NewRequest("LIST", f.URL()+"/v1/secret/metadata/apps/billing", nil)
	req.Header.Set("X-Vault-Token", f.RootToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Data struct{ Keys []string } `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !slices.Equal(body.Data.Keys, []string{"paypal", "stripe"}) {
		t.Fatalf("LIST method: %d %v %+v", resp.StatusCode, err, body)
	}
	if f.Calls("metadata.list") != 6 {
		t.Fatalf("metadata.list calls %d", f.Calls("metadata.list"))
	}
}

func TestKV2InvalidPathAndKV1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	f.Mount("", "legacy", 1)
	c := client(t, f, f.RootToken())

	// A v1-style read on a v2 mount: 404 with Vault's warning.
	s, err := c.Logical().Read("secret/foo")
	if err != nil || s == nil || len(s.Warnings) != 1 || s.Data != nil {
		t.Fatalf("v1 read on a v2 mount: %v %+v", err, s)
	}

	if _, err := c.Logical().Write("legacy/app/k", map[string]any{"value": "v1"}); err != nil {
		t.Fatal(err)
	}
	s, err = c.Logical().Read("legacy/app/k")
	if err != nil || s.Data["value"] != "v1" {
		t.Fatalf("kv1 read: %v %+v", err, s)
	}
	if s, err := c.Logical().List("legacy/app"); err != nil || len(s.Data["keys"].([]any)) != 1 {
		t.Fatalf("kv1 list: %v %+v", err, s)
	}
	// The KV v2 client against a v1 mount finds nothing where it looks.
	if _, err := c.KVv2("legacy").Get(ctx, "app/k"); err == nil {
		t.Fatal("KVv2 read on a v1 mount succeeded")
	}
	if _, err := c.Logical().Delete("legacy/app/k"); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Logical().Read("legacy/app/k"); err != nil || s != nil {
		t.Fatalf("kv1 read after delete: %v %+v", err, s)
	}
	// A path under no mount.
	_, err = c.Logical().Write("nomount/x", map[string]any{"a": "b"})
	if e := errorsOf(err); status(err) != http.StatusNotFound || len(e) != 1 || e[0] != `no handler for route "nomount/x". route entry not found.` {
		t.Fatalf("no mount: %v", err)
	}
}
