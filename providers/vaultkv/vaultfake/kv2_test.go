package vaultfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/secretsledger/secretsledger/providers/vaultkv/vaultfake"
)

func TestKV2VersionsAndReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	kv := client(t, f, f.RootToken()).KVv2("secret")

	for i, v := range []string{"one", "two", "three"} {
		s, err := kv.Put(ctx, "app/db", map[string]any{"value": v})
		if err != nil {
			t.Fatal(err)
		}
		if s.VersionMetadata.Version != i+1 || s.VersionMetadata.CreatedTime.IsZero() || !s.VersionMetadata.DeletionTime.IsZero() {
			t.Fatalf("write %d: %+v", i+1, s.VersionMetadata)
		}
	}
	latest, err := kv.Get(ctx, "app/db")
	if err != nil {
		t.Fatal(err)
	}
	if latest.Data["value"] != "three" || latest.VersionMetadata.Version != 3 {
		t.Fatalf("latest: %+v %+v", latest.Data, latest.VersionMetadata)
	}
	first, err := kv.GetVersion(ctx, "app/db", 1)
	if err != nil || first.Data["value"] != "one" || first.VersionMetadata.Version != 1 {
		t.Fatalf("version 1: %v %+v", err, first)
	}
	if _, err := kv.GetVersion(ctx, "app/db", 9); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("version 9: %v, want ErrSecretNotFound", err)
	}
	if _, err := kv.Get(ctx, "app/none"); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("missing key: %v, want ErrSecretNotFound", err)
	}
	// Numbers keep their precision, as Vault keeps the JSON it was given.
	f.Write("", "secret", "big", map[string]any{"n": int64(12345678901234567)})
	if big, err := kv.Get(ctx, "big"); err != nil || big.Data["n"] != json.Number("12345678901234567") {
		t.Fatalf("big number: %v %v", err, big)
	}
	if got := f.Calls("data.write"); got != 3 {
		t.Fatalf("data.write calls %d, want 3", got)
	}
	if got := f.Calls("data.read"); got != 5 {
		t.Fatalf("data.read calls %d, want 4", got)
	}
}

func TestKV2CheckAndSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	kv := client(t, f, f.RootToken()).KVv2("secret")

	if _, err := kv.Put(ctx, "k", map[string]any{"value": "a"}, api.WithCheckAndSet(0)); err != nil {
		t.Fatalf("cas 0 on a new key: %v", err)
	}
	_, err := kv.Put(ctx, "k", map[string]any{"value": "b"}, api.WithCheckAndSet(0))
	wantStatus(t, err, http.StatusBadRequest)
	if e := errorsOf(err); len(e) != 1 || e[0] != "check-and-set parameter did not match the current version" {
		t.Fatalf("errors %q", e)
	}
	if _, err := kv.Put(ctx, "k", map[string]any{"value": "b"}, api.WithCheckAndSet(1)); err != nil {
		t.Fatalf("cas 1: %v", err)
	}
	// Someone writes behind our back: the version we expect is stale.
	if v := f.Write("", "secret", "k", map[string]any{"value": "theirs"}); v != 3 {
		t.Fatalf("behind-the-back write made version %d", v)
	}
	_, err = kv.Put(ctx, "k", map[string]any{"value": "c"}, api.WithCheckAndSet(2))
	wantStatus(t, err, http.StatusBadRequest)

	// cas_required on the secret, then on the mount.
	if err := kv.PutMetadata(ctx, "k", api.KVMetadataPutInput{CASRequired: true}); err != nil {
		t.Fatal(err)
	}
	_, err = kv.Put(ctx, "k", map[string]any{"value": "d"})
	if e := errorsOf(err); status(err) != http.StatusBadRequest || len(e) != 1 || e[0] != "check-and-set parameter required for this call" {
		t.Fatalf("no cas with cas_required: %v", err)
	}
	f.ConfigureMount("", "secret", 0, true, 0)
	_, err = kv.Put(ctx, "other", map[string]any{"value": "x"})
	wantStatus(t, err, http.StatusBadRequest)
	if _, err := kv.Put(ctx, "other", map[string]any{"value": "x"}, api.WithCheckAndSet(0)); err != nil {
		t.Fatal(err)
	}
}

func TestKV2MaxVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	kv := client(t, f, f.RootToken()).KVv2("secret")

	if err := kv.PutMetadata(ctx, "k", api.KVMetadataPutInput{MaxVersions: 2}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if _, err := kv.Put(ctx, "k", map[string]any{"value": v}); err != nil {
			t.Fatal(err)
		}
	}
	md, err := kv.GetMetadata(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if md.CurrentVersion != 3 || md.OldestVersion != 2 || md.MaxVersions != 2 || len(md.Versions) != 2 || md.Versions["1"].Version != 0 {
		t.Fatalf("metadata %+v", md)
	}
	if _, err := kv.GetVersion(ctx, "k", 1); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("trimmed version 1: %v", err)
	}

	// Without a per-secret setting, the mount's, else 10.
	for range 11 {
		f.Write("", "secret", "ten", map[string]any{"value": "x"})
	}
	if s, _ := f.Secret("", "secret", "ten"); len(s.Versions) != 10 || s.OldestVersion != 2 {
		t.Fatalf("default max versions: %d versions, oldest %d", len(s.Versions), s.OldestVersion)
	}
	f.ConfigureMount("", "secret", 3, false, 0)
	f.Write("", "secret", "ten", map[string]any{"value": "x"})
	if s, _ := f.Secret("", "secret", "ten"); len(s.Versions) != 3 || s.OldestVersion != 10 {
		t.Fatalf("mount max versions: %d versions, oldest %d", len(s.Versions), s.OldestVersion)
	}
}

func TestKV2SoftDeleteUndeleteDestroy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := vaultfake.New(t)
	c := client(t, f, f.RootToken())
	kv := c.KVv2("secret")
	for _, v := range []string{"a", "b", "c"} {
		if _, err := kv.Put(ctx, "k", map[string]any{"value": v}); err != nil {
			t.Fatal(err)
		}
	}

	// DELETE data: the latest version is soft-deleted; a read answers no data and the
	// deletion time, without an error.
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	s, err := kv.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if s.Data != nil || s.VersionMetadata.Version != 3 || s.VersionMetadata.DeletionTime.IsZero() || s.VersionMetadata.Destroyed {
		t.Fatalf("deleted latest: %+v %+v", s.Data, s.VersionMetadata)
	}
	// The raw answer is Vault's: 404 with data null and the metadata.
	resp, err := c.Logical().ReadRawWithData("secret/data/k", nil)
	if resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("raw read of a deleted version: %v %v", resp, err)
	}
	resp.Body.Close()

	if err := kv.DeleteVersions(ctx, "k", []int{1}); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.GetVersion(ctx, "k", 1); err != nil || s.Data != nil || s.VersionMetadata.DeletionTime.IsZero() {
		t.Fatalf("deleted version 1: %v %+v", err, s)
	}
	if err := kv.Undelete(ctx, "k", []int{1, 3}); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.GetVersion(ctx, "k", 1); err != nil || s.Data["value"] != "a" || !s.VersionMetadata.DeletionTime.IsZero() {
		t.Fatalf("undeleted version 1: %v %+v", err, s)
	}
	if err := kv.Destroy(ctx, "k", []int{2}); err != nil {
		t.Fatal(err)
	}
	s, err = kv.GetVersion(ctx, "k", 2)
	if err != nil || s.Data != nil || !s.VersionMetadata.Destroyed || !s.VersionMetadata.DeletionTime.IsZero() {
		t.Fatalf("destroyed version 2: %v %+v", err, s)
	}
	// Undelete cannot bring back a destroyed version.
	if err := kv.Undelete(ctx, "k", []int{2}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Secret("", "secret", "k"); !st.Versions[2].Destroyed || st.Versions[2].Data != nil {
		t.Fatalf("version 2 after undelete: %+v", st.Versions[2])
	}
	if err := kv.DeleteMetadata(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.GetMetadata(ctx, "k"); !errors.Is(err, api.ErrSecretNotFound) {
		t.Fatalf("metadata after DeleteMetadata: %v", err)
	}
	if _, ok := f.Secret("", "secret", "k"); ok {
		t.Fatal("the secret survived DeleteMetadata")
	}
	for op, want := range map[string]int{"data.delete": 1, "delete": 1, "undelete": 2, "destroy": 1, "metadata.delete": 1} {
		if got := f.Calls(op); got != want {
			t.Errorf("%s calls %d, want %d", op, got, want)
		}
	}
}
