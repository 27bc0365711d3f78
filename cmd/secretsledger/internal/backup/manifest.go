package backup

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// Suffixes of the files written beside a backup.
const (
	ManifestSuffix = ".manifest.json"
	VerifiedSuffix = ".verified.json"
)

// Manifest describes a backup: what a restore compares itself with. It never holds the
// master key, only its fingerprint.
// WARNING: persisted format; operators' tooling may read it.
type Manifest struct {
	Instance       string    `json:"instance"`
	CreatedAt      time.Time `json:"created_at"`
	HeadPosition   int64     `json:"head_position"`
	HeadHash       string    `json:"head_hash"`
	Checkpoint     *int64    `json:"newest_checkpoint_position,omitempty"`
	CheckpointHash string    `json:"newest_checkpoint_hash,omitempty"`
	SchemaVersion  int       `json:"schema_version"`
	KeyFingerprint string    `json:"master_key_fingerprint"`
	PostgresMajor  string    `json:"postgres_version"`
	// Encrypted says the dump is an age file: restoring it needs an identity.
	Encrypted bool `json:"encrypted,omitempty"`
}

// Check is the result of restoring a backup into a throwaway cluster, written beside
// it.
// WARNING: persisted format; operators' tooling may read it.
type Check struct {
	VerifiedAt   time.Time `json:"verified_at"`
	OK           bool      `json:"ok"`
	Events       int64     `json:"events"`
	HeadPosition int64     `json:"head_position"`
	HeadHash     string    `json:"head_hash"`
	Problem      string    `json:"problem,omitempty"`
}

// readManifest reads the head, the newest checkpoint, the schema version and the key
// fingerprint in tx's snapshot.
func readManifest(ctx context.Context, tx pgx.Tx) (Manifest, error) {
	var m Manifest
	var hash []byte
	err := tx.QueryRow(ctx, `SELECT position, hash FROM ledger_events ORDER BY position DESC LIMIT 1`).Scan(&m.HeadPosition, &hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("backup: read head: %w", err)
	}
	m.HeadHash = hex.EncodeToString(hash)
	var cpPos int64
	var cpHash []byte
	err = tx.QueryRow(ctx, `SELECT position, hash FROM ledger_checkpoints ORDER BY position DESC LIMIT 1`).Scan(&cpPos, &cpHash)
	switch {
	case err == nil:
		m.Checkpoint, m.CheckpointHash = &cpPos, hex.EncodeToString(cpHash)
	case !errors.Is(err, pgx.ErrNoRows):
		return m, fmt.Errorf("backup: read checkpoints: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&m.SchemaVersion); err != nil {
		return m, fmt.Errorf("backup: read schema version: %w", err)
	}
	err = tx.QueryRow(ctx, `SELECT key_fingerprint FROM local_encrypted_key_check`).Scan(&m.KeyFingerprint)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("backup: read key fingerprint: %w", err)
	}
	if err := tx.QueryRow(ctx, `SHOW server_version`).Scan(&m.PostgresMajor); err != nil {
		return m, fmt.Errorf("backup: server version: %w", err)
	}
	return m, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// LoadManifest reads the manifest beside the backup file; a missing one is a usage
// error.
func LoadManifest(file string) (Manifest, error) {
	var m Manifest
	if err := readJSON(file+ManifestSuffix, &m); err != nil {
		return m, usage.Errorf("backup manifest %s: %w (it is written beside every backup)", file+ManifestSuffix, err)
	}
	return m, nil
}

// LoadCheck reads the verification record beside the backup file.
func LoadCheck(file string) (Check, error) {
	var c Check
	return c, readJSON(file+VerifiedSuffix, &c)
}

// Entry is one listed backup.
type Entry struct {
	Path     string
	Size     int64
	Manifest Manifest
	// Check is nil while the backup was never verified.
	Check *Check
}

// List lists the backups in dir, oldest first.
func List(dir string) ([]Entry, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.dump"))
	if err != nil {
		return nil, err
	}
	encrypted, _ := filepath.Glob(filepath.Join(dir, "*.dump.age"))
	names = append(names, encrypted...)
	var out []Entry
	for _, n := range names {
		st, err := os.Stat(n)
		if err != nil {
			continue
		}
		e := Entry{Path: n, Size: st.Size()}
		if err := readJSON(n+ManifestSuffix, &e.Manifest); err != nil {
			continue // not one of ours, or half written
		}
		if c, err := LoadCheck(n); err == nil {
			e.Check = &c
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Manifest.CreatedAt.Before(out[j].Manifest.CreatedAt) })
	return out, nil
}
