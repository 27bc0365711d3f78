package localenc

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/providers"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func sealer(t *testing.T, getenv func(string) string) *Sealer {
	t.Helper()
	k, _, err := LoadMasterKey(getenv, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseKeyAcceptsTheThreeForms(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789ABCDEF")
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		hex.EncodeToString(raw),
		string(raw),
		" " + hex.EncodeToString(raw) + "\n",
	} {
		k, err := ParseKey(s)
		if err != nil || !bytes.Equal(k[:], raw) {
			t.Errorf("ParseKey(%q) = %x, %v", s, k, err)
		}
	}
	for _, bad := range []string{"", "short", strings.Repeat("a", 33), base64.StdEncoding.EncodeToString(raw[:16])} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestLoadMasterKeyOrder(t *testing.T) {
	dir := t.TempDir()
	keyHex := strings.Repeat("ab", 32)
	k, _, err := LoadMasterKey(env(map[string]string{EnvMasterKey: keyHex, EnvMasterKeyFile: "/nonexistent"}), dir)
	if err != nil || k.Source != "env "+EnvMasterKey {
		t.Fatalf("env key: %v, %v", k, err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFileName)); err == nil {
		t.Fatal("a key file was created although the env var is set")
	}

	file := filepath.Join(t.TempDir(), "custom.key")
	if err := os.WriteFile(file, []byte(keyHex), 0o644); err != nil {
		t.Fatal(err)
	}
	k2, findings, err := LoadMasterKey(env(map[string]string{EnvMasterKeyFile: file}), dir)
	if err != nil || k2.Source != file || k2.Fingerprint() != k.Fingerprint() {
		t.Fatalf("file key: %v, %v", k2, err)
	}
	if len(findings) != 1 || !strings.Contains(string(findings[0]), "0644") {
		t.Fatalf("loose permissions not reported: %v", findings)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode not fixed: %v", fi.Mode())
	}
	if _, _, err := LoadMasterKey(env(map[string]string{EnvMasterKeyFile: filepath.Join(dir, "missing.key")}), dir); err == nil {
		t.Fatal("a missing explicit key file must be an error, not a new key")
	}

	generated, _, err := LoadMasterKey(env(nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file: %v, %v", fi, err)
	}
	again, _, err := LoadMasterKey(env(nil), dir)
	if err != nil || again.Fingerprint() != generated.Fingerprint() {
		t.Fatal("the generated key is not reused")
	}
	if s := fmt.Sprintf("%v %+v %#v %s", generated, generated, generated, generated); strings.Contains(s, hex.EncodeToString(generated.key[:])) {
		t.Fatalf("master key printed: %s", s)
	}
}

func TestEnvelopeRoundTripAndBinding(t *testing.T) {
	s := sealer(t, env(nil))
	secret := providers.NewValue([]byte("sk-live-canary"))
	wrapped := s.NewDataKey("co-a", "sec-1")
	ct, err := s.Encrypt(wrapped, "co-a", "sec-1", 1, secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, secret.Reveal()) || bytes.Contains(wrapped, secret.Reveal()) {
		t.Fatal("plaintext visible in ciphertext")
	}
	got, err := s.Decrypt(wrapped, ct, "co-a", "sec-1", 1)
	if err != nil || string(got.Reveal()) != "sk-live-canary" {
		t.Fatalf("Decrypt = %v, %v", got, err)
	}

	// Ciphertext cannot be moved to another company, secret or version, nor opened
	// with another secret's data key.
	other := s.NewDataKey("co-a", "sec-2")
	for name, try := range map[string]func() error{
		"other company": func() error { _, err := s.Decrypt(wrapped, ct, "co-b", "sec-1", 1); return err },
		"other secret":  func() error { _, err := s.Decrypt(wrapped, ct, "co-a", "sec-2", 1); return err },
		"other version": func() error { _, err := s.Decrypt(wrapped, ct, "co-a", "sec-1", 2); return err },
		"other key":     func() error { _, err := s.Decrypt(other, ct, "co-a", "sec-2", 1); return err },
		"bit flip": func() error {
			bad := bytes.Clone(ct)
			bad[len(bad)-1] ^= 1
			_, err := s.Decrypt(wrapped, bad, "co-a", "sec-1", 1)
			return err
		},
		"truncated": func() error { _, err := s.Decrypt(wrapped, ct[:5], "co-a", "sec-1", 1); return err },
	} {
		err := try()
		var de *DecryptError
		if !errors.As(err, &de) {
			t.Errorf("%s: err = %v, want *DecryptError", name, err)
			continue
		}
		if strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: error leaks the value: %v", name, err)
		}
	}
}

func TestWrongMasterKeyNamesItsFingerprint(t *testing.T) {
	s1 := sealer(t, env(map[string]string{EnvMasterKey: strings.Repeat("11", 32)}))
	s2 := sealer(t, env(map[string]string{EnvMasterKey: strings.Repeat("22", 32)}))
	wrapped := s1.NewDataKey("co", "sec")
	ct, _ := s1.Encrypt(wrapped, "co", "sec", 1, providers.NewValue([]byte("v")))
	_, err := s2.Decrypt(wrapped, ct, "co", "sec", 1)
	if err == nil || !strings.Contains(err.Error(), s2.key.Fingerprint()) || len(s2.key.Fingerprint()) != 12 {
		t.Fatalf("err = %v", err)
	}
}

func TestRewrapKeepsValuesUnderTheNewKey(t *testing.T) {
	oldS := sealer(t, env(map[string]string{EnvMasterKey: strings.Repeat("11", 32)}))
	newS := sealer(t, env(map[string]string{EnvMasterKey: strings.Repeat("22", 32)}))
	wrapped := oldS.NewDataKey("co", "sec")
	ct, _ := oldS.Encrypt(wrapped, "co", "sec", 3, providers.NewValue([]byte("value-3")))
	rewrapped, err := oldS.Rewrap(wrapped, "co", "sec", newS)
	if err != nil {
		t.Fatal(err)
	}
	got, err := newS.Decrypt(rewrapped, ct, "co", "sec", 3)
	if err != nil || string(got.Reveal()) != "value-3" {
		t.Fatalf("after rewrap: %v, %v", got, err)
	}
	if _, err := oldS.Decrypt(rewrapped, ct, "co", "sec", 3); err == nil {
		t.Fatal("the old key still opens the rewrapped data key")
	}
}

func TestFingerprintIsKeyedHMAC(t *testing.T) {
	s1 := sealer(t, env(map[string]string{EnvMasterKey: strings.Repeat("11", 32)}))
	s2 := sealer(t, env(map[string]string{EnvMasterKey: strings.Repeat("22", 32)}))
	v := providers.NewValue([]byte("hunter2"))
	if s1.Fingerprint("co", v) != s1.Fingerprint("co", providers.NewValue([]byte("hunter2"))) {
		t.Fatal("fingerprint not deterministic")
	}
	if s1.Fingerprint("co", v) == s2.Fingerprint("co", v) {
		t.Fatal("fingerprint does not depend on the server key")
	}
	// Company ids that would run together with the label or each other still differ.
	for _, other := range []string{"co2", "c", "", "co\x00"} {
		if s1.Fingerprint("co", v) == s1.Fingerprint(other, v) {
			t.Fatalf("companies %q and %q share a fingerprint key", "co", other)
		}
	}
	bare := fmt.Sprintf("%x", sha256Sum([]byte("hunter2")))
	if s1.Fingerprint("co", v) == bare || string(s1.RequestHash([]byte("hunter2"))) == bare {
		t.Fatal("fingerprint is a bare SHA-256 of the value")
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func BenchmarkEncrypt(b *testing.B) {
	s, err := NewSealer(NewMasterKey([KeySize]byte{1}, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	wrapped := s.NewDataKey("co", "sec")
	v := providers.NewValue([]byte("sk-live-0123456789abcdef0123456789abcdef"))
	for b.Loop() {
		if _, err := s.Encrypt(wrapped, "co", "sec", 3, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	s, err := NewSealer(NewMasterKey([KeySize]byte{1}, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	wrapped := s.NewDataKey("co", "sec")
	ct, _ := s.Encrypt(wrapped, "co", "sec", 3, providers.NewValue([]byte("sk-live-0123456789abcdef0123456789abcdef")))
	for b.Loop() {
		if _, err := s.Decrypt(wrapped, ct, "co", "sec", 3); err != nil {
			b.Fatal(err)
		}
	}
}
