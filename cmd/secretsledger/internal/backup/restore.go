package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// Restored is what a restore did.
type Restored struct {
	Manifest Manifest
	Check    Check
	// SafetyBackup is the backup of the existing database taken first (--force); it is
	// set as soon as it is taken, even when the restore then fails.
	SafetyBackup       string
	Companies, Secrets int64
}

// Restore restores file into the instance's database, which must be empty unless force
// (then it is backed up first), brings it to the current schema, verifies it, rebuilds
// the read models and checks that the instance's master key is the backup's.
func Restore(ctx context.Context, o Options, file, identity string, force bool) (Restored, error) {
	var r Restored
	m, err := LoadManifest(file)
	if err != nil {
		return r, err
	}
	r.Manifest = m
	if m.Encrypted {
		// Before anything is touched: the identity must open the file.
		f, err := os.Open(file)
		if err != nil {
			return r, usage.Errorf("restore: %w", err)
		}
		_, err = decrypt(f, identity)
		f.Close()
		if err != nil {
			return r, err
		}
	}
	dir, err := database.Prepare(o.Config)
	if err != nil {
		return r, err
	}
	// The key first: restoring data nobody can decrypt would only leave an instance
	// that refuses to start.
	if err := checkRestoreKey(o, dir, m); err != nil {
		return r, err
	}
	db, err := database.Open(ctx, o.Config, dir, o.Log)
	if err != nil {
		return r, err
	}
	defer db.Close(context.WithoutCancel(ctx))
	if r.SafetyBackup, err = emptyOrBackedUp(ctx, o, db.MigrationURL, force); err != nil {
		return r, err
	}
	if err := pgRestore(ctx, o, db.MigrationURL, file, m.Encrypted, identity); err != nil {
		return r, err
	}
	// The dump carries no grants; the target's runtime role gets its own, and a dump of
	// an older schema is brought up to date.
	if _, err := db.Migrate(ctx); err != nil {
		return r, fmt.Errorf("restore: migrate: %w", err)
	}
	if r.Check, err = checkRestored(ctx, o, db.MigrationURL, m); err != nil {
		return r, err
	}
	if !r.Check.OK {
		return r, fmt.Errorf("restored %s but it FAILED verification: %s", file, r.Check.Problem)
	}
	r.Companies, r.Secrets, err = countSecrets(ctx, db.MigrationURL)
	return r, err
}

// emptyOrBackedUp refuses a database that holds events unless force, and then backs it
// up first, returning where.
func emptyOrBackedUp(ctx context.Context, o Options, url string, force bool) (string, error) {
	events, err := countEvents(ctx, url)
	if err != nil || events == 0 {
		return "", err
	}
	if !force {
		return "", usage.Errorf("the database of instance %s holds %d events; restore only into an empty one (or --force, which takes a backup of it first)", o.Config.Instance, events)
	}
	path, _, err := Dump(ctx, o, url, "")
	if err != nil {
		return "", fmt.Errorf("restore: backup before --force: %w", err)
	}
	return path, nil
}

// checkRestoreKey compares the instance's master key with the backup's.
func checkRestoreKey(o Options, dir instance.Dir, m Manifest) error {
	if m.KeyFingerprint == "" {
		return nil // the backed-up instance never stored a secret
	}
	secretsDir := filepath.Join(dir.Path, "secrets")
	keyFile := o.Getenv(localenc.EnvMasterKeyFile)
	if keyFile == "" {
		keyFile = filepath.Join(secretsDir, localenc.KeyFileName)
	}
	key, _, err := localenc.ReadMasterKey(o.Getenv, secretsDir)
	if err != nil {
		return usage.Errorf("the backup's secrets are encrypted with master key %s and no master key is configured: bring back the key file with fingerprint %s to %s (or set %s): %w",
			m.KeyFingerprint, m.KeyFingerprint, keyFile, localenc.EnvMasterKey, err)
	}
	if key.Fingerprint() != m.KeyFingerprint {
		return usage.Errorf("the backup's secrets are encrypted with master key %s but this instance's master key is %s (from %s): bring back the key file with fingerprint %s to %s (or set %s)",
			m.KeyFingerprint, key.Fingerprint(), key.Source, m.KeyFingerprint, keyFile, localenc.EnvMasterKey)
	}
	return nil
}

func countEvents(ctx context.Context, url string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('ledger_events') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM ledger_events`).Scan(&n)
	return n, err
}

func countSecrets(ctx context.Context, url string) (companies, secrets int64, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `SELECT count(DISTINCT company_id), count(*) FROM company_secrets`).Scan(&companies, &secrets)
	return companies, secrets, err
}
