package localenc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReplaceKeyFileKeepsTheOldKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFileName)
	if err := os.WriteFile(path, []byte("old key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	next, err := GenerateKeyFile(path + ".new")
	if err != nil {
		t.Fatal(err)
	}
	kept, err := ReplaceKeyFile(path, next, time.Date(2026, 12, 7, 14, 5, 6, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".20261207T140506Z.old"; kept != want {
		t.Fatalf("kept as %s, want %s", kept, want)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != "old key\n" {
		t.Fatalf("the old key: %q, %v", b, err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != next.Encoded()+"\n" {
		t.Fatalf("the new key file: %q, %v", b, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the new key file's mode: %v, %v", fi, err)
	}
}

func TestReplaceKeyFileWithoutAnOldKeySaysWhatToDo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	next := NewMasterKey([KeySize]byte{7}, filepath.Join(dir, "new.key"))
	kept, err := ReplaceKeyFile(filepath.Join(dir, KeyFileName), next, time.Now())
	if err == nil || kept != "" {
		t.Fatalf("kept %q, err %v", kept, err)
	}
	if want := "move the new key into place by hand (" + next.Source + ")"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestMasterKeyFromEnv(t *testing.T) {
	t.Parallel()
	if !(MasterKey{Source: "env " + EnvMasterKey}).FromEnv() || NewMasterKey([KeySize]byte{}, "/keys/master.key").FromEnv() {
		t.Fatal("FromEnv")
	}
}
