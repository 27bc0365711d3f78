package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Checkpoints configures the signed checkpoints of the log's head.
type Checkpoints struct {
	// KeyFile is LEDGER_CHECKPOINT_KEY_FILE (default <instance>/secrets/checkpoint.key):
	// the ed25519 signing key, created 0600 by serve when missing. Empty means the default.
	KeyFile string
	// EveryEvents is LEDGER_CHECKPOINT_EVERY_EVENTS (default 1000): sign once the head has
	// moved this many events past the last checkpoint.
	EveryEvents int64
	// Every is LEDGER_CHECKPOINT_EVERY (default 10s): sign a head that moved at least this
	// often, however few events it moved by.
	Every time.Duration
	// ExportFile is LEDGER_CHECKPOINT_EXPORT: a file every checkpoint is appended to as a
	// JSON line (fsynced); empty: none.
	ExportFile string
	// IntegrityKeyFile is LEDGER_INTEGRITY_KEY_FILE (default <instance>/secrets/integrity.key):
	// the secret that keys credential hashes and authenticates events. Empty means the default.
	IntegrityKeyFile string
}

func checkpointsFromEnv(getenv func(string) string, problems []string) (Checkpoints, []string) {
	cp := Checkpoints{KeyFile: strings.TrimSpace(getenv("LEDGER_CHECKPOINT_KEY_FILE")), EveryEvents: 1000, Every: 10 * time.Second,
		ExportFile: strings.TrimSpace(getenv("LEDGER_CHECKPOINT_EXPORT")), IntegrityKeyFile: strings.TrimSpace(getenv("LEDGER_INTEGRITY_KEY_FILE"))}
	if v := getenv("LEDGER_CHECKPOINT_EVERY_EVENTS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 1_000_000 {
			problems = append(problems, fmt.Sprintf("LEDGER_CHECKPOINT_EVERY_EVENTS must be a number of events (1-1000000), got %q", v))
		}
		cp.EveryEvents = n
	}
	if v := getenv("LEDGER_CHECKPOINT_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond || d > 24*time.Hour {
			problems = append(problems, fmt.Sprintf("LEDGER_CHECKPOINT_EVERY must be a duration from 100ms to 24h (e.g. 10s), got %q", v))
		}
		cp.Every = d
	}
	for _, f := range []struct{ name, path string }{{"LEDGER_CHECKPOINT_KEY_FILE", cp.KeyFile}, {"LEDGER_CHECKPOINT_EXPORT", cp.ExportFile}, {"LEDGER_INTEGRITY_KEY_FILE", cp.IntegrityKeyFile}} {
		if f.path != "" && !filepath.IsAbs(f.path) {
			problems = append(problems, fmt.Sprintf("%s must be an absolute path, got %q", f.name, f.path))
		}
	}
	return cp, problems
}

// CheckpointKeyFile is the checkpoint signing key's path: LEDGER_CHECKPOINT_KEY_FILE, else
// <instance>/secrets/checkpoint.key.
func (c Config) CheckpointKeyFile() string {
	if c.Checkpoints.KeyFile != "" {
		return c.Checkpoints.KeyFile
	}
	return filepath.Join(c.InstanceDir(), "secrets", "checkpoint.key")
}

// IntegrityKeyFile is the integrity key's path: LEDGER_INTEGRITY_KEY_FILE, else
// <instance>/secrets/integrity.key.
func (c Config) IntegrityKeyFile() string {
	if c.Checkpoints.IntegrityKeyFile != "" {
		return c.Checkpoints.IntegrityKeyFile
	}
	return filepath.Join(c.InstanceDir(), "secrets", "integrity.key")
}
