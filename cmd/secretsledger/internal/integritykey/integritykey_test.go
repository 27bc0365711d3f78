package integritykey

import (
	"errors"
	"log/slog"
	"os"
	"testing"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// An operator command never creates the key: a missing one is no error for the store
// (missing says why), and any other problem is a usage error. serve creates it once and
// then reads the same key.
func TestOnlyServeCreatesTheKey(t *testing.T) {
	cfg := config.FromEnv(func(k string) string { return map[string]string{"LEDGER_HOME": t.TempDir()}[k] })
	log := slog.New(slog.DiscardHandler)

	_, missing, err := ForStore(cfg, log, true)
	if err != nil || !errors.Is(missing, os.ErrNotExist) {
		t.Fatalf("optional, no file: missing %v, err %v", missing, err)
	}
	if _, err := os.Stat(cfg.IntegrityKeyFile()); !os.IsNotExist(err) {
		t.Fatalf("an operator command created the key: %v", err)
	}
	if _, err := Load(cfg, log, false); !errors.As(err, new(usage.Error)) {
		t.Fatalf("reading a missing key: %v, want a usage error", err)
	}

	created, missing, err := ForStore(cfg, log, false)
	if err != nil || missing != nil {
		t.Fatalf("serve: %v, %v", missing, err)
	}
	again, missing, err := ForStore(cfg, log, true)
	if err != nil || missing != nil || again.Fingerprint() != created.Fingerprint() {
		t.Fatalf("operator after serve: %v, %v, same key %v", missing, err, again.Fingerprint() == created.Fingerprint())
	}

	if err := os.WriteFile(cfg.IntegrityKeyFile(), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, missing, err := ForStore(cfg, log, true); missing != nil || !errors.As(err, new(usage.Error)) {
		t.Fatalf("unusable key: missing %v, err %v, want a usage error", missing, err)
	}
}
