package integrity

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateKeepsTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets", "integrity.key")
	k1, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v err %v, want 0600", fi.Mode().Perm(), err)
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("load: created=%v err=%v", created, err)
	}
	if !bytes.Equal(k1.CredentialHash("slb_x"), k2.CredentialHash("slb_x")) || k1.Fingerprint() != k2.Fingerprint() {
		t.Fatal("the key changed between loads")
	}
}

func TestLoadRefusesAFileOthersCanRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "integrity.key")
	if _, _, err := LoadOrCreate(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Fatal("a 0644 key file was accepted")
	}
}

func TestHashesAreKeyedAndUpgradeable(t *testing.T) {
	a, _ := FromSecret(bytes.Repeat([]byte{1}, 32))
	b, _ := FromSecret(bytes.Repeat([]byte{2}, 32))
	unkeyed := sha256.Sum256([]byte("slb_x"))
	if bytes.Equal(a.CredentialHash("slb_x"), unkeyed[:]) {
		t.Fatal("the credential hash is the bare SHA-256")
	}
	if bytes.Equal(a.CredentialHash("slb_x"), b.CredentialHash("slb_x")) {
		t.Fatal("two keys give the same credential hash")
	}
	if !bytes.Equal(a.KeyStoredHash(unkeyed[:]), a.CredentialHash("slb_x")) {
		t.Fatal("keying a stored SHA-256 does not give the credential hash")
	}
	h := sha256.Sum256([]byte("event"))
	mac := a.EventMAC(h[:])
	if !a.VerifyEventMAC(h[:], mac) || b.VerifyEventMAC(h[:], mac) || a.VerifyEventMAC(h[:], mac[:31]) {
		t.Fatal("event MACs do not tell keys apart")
	}
	if bytes.Equal(a.EventMAC(h[:]), a.KeyStoredHash(h[:])) {
		t.Fatal("the event and credential keys are the same")
	}
	if _, err := FromSecret([]byte("short")); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

// A sealed answer opens under the same key and aad only, and does not hold its
// plaintext.
func TestSealedAnswersOpenUnderTheirKeyAndAADOnly(t *testing.T) {
	k, _ := FromSecret(make([]byte, 32))
	other, _ := FromSecret(append(make([]byte, 31), 1))
	plain := []byte(`{"token":"sla_secret"}`)
	sealed, err := k.SealAnswer(plain, []byte("board:a\x00key"))
	if err != nil || bytes.Contains(sealed, []byte("sla_secret")) {
		t.Fatalf("seal: %v, holds the plaintext: %v", err, bytes.Contains(sealed, []byte("sla_secret")))
	}
	if got, err := k.OpenAnswer(sealed, []byte("board:a\x00key")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := k.OpenAnswer(sealed, []byte("board:b\x00key")); err == nil {
		t.Fatal("opened under another caller's aad")
	}
	if _, err := other.OpenAnswer(sealed, []byte("board:a\x00key")); err == nil {
		t.Fatal("opened under another key")
	}
	if _, err := k.OpenAnswer(sealed[:5], nil); err == nil {
		t.Fatal("opened a truncated answer")
	}
}
