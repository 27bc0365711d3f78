package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/projections"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// Suffixes of the files written beside a backup.
const (
	manifestSuffix = ".manifest.json"
	verifiedSuffix = ".verified.json"
)

// backupManifest describes a backup: what a restore compares itself with. It never
// holds the master key, only its fingerprint.
// WARNING: persisted format; operators' tooling may read it.
type backupManifest struct {
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

// backupCheck is the result of restoring a backup into a throwaway cluster.
type backupCheck struct {
	VerifiedAt   time.Time `json:"verified_at"`
	OK           bool      `json:"ok"`
	Events       int64     `json:"events"`
	HeadPosition int64     `json:"head_position"`
	HeadHash     string    `json:"head_hash"`
	Problem      string    `json:"problem,omitempty"`
}

func newBackupCmds(env *environment) []*cobra.Command {
	var out, identity string
	var verifyAfter bool
	var recipients []string
	backup := &cobra.Command{
		Use:   "backup [--out FILE] [--verify]",
		Short: "take a consistent pg_dump of the ledger's database (safe while serve runs) with a manifest beside it",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			path, m, err := runBackup(c.Context(), env, out, recipients)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "backup %s: position %d, head %s, master key %s\n", path, m.HeadPosition, short(m.HeadHash), m.KeyFingerprint)
			if verifyAfter {
				return runVerifyBackup(c.Context(), env, path, identity)
			}
			return nil
		},
	}
	backup.Flags().StringVar(&out, "out", "", "write the dump here instead of <instance>/backups/<instance>-<UTC time>-pos<head>.dump")
	backup.Flags().BoolVar(&verifyAfter, "verify", false, "then restore it into a throwaway cluster and verify it (as verify-backup)")
	backup.Flags().StringArrayVar(&recipients, "encrypt-to", nil, "encrypt the dump for this age recipient (age1…); repeatable")
	backup.Flags().StringVar(&identity, "identity", "", "age identity file to decrypt an encrypted backup with (for --verify)")

	list := &cobra.Command{
		Use:   "backups",
		Short: "list the instance's backups: time, size, position, verified or not",
		Args:  exactArgs(),
		RunE:  func(*cobra.Command, []string) error { return runBackups(env) },
	}
	verify := &cobra.Command{
		Use:   "verify-backup FILE",
		Short: "restore a backup into a throwaway cluster, verify its chain, rebuild its read models and compare its head with the manifest",
		Args:  exactArgs("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			return runVerifyBackup(c.Context(), env, args[0], identity)
		},
	}
	verify.Flags().StringVar(&identity, "identity", "", "age identity file to decrypt an encrypted backup with")
	var force bool
	var inst string
	restore := &cobra.Command{
		Use:   "restore FILE [--instance NEW] [--force]",
		Short: "restore a backup into an empty database, verify it, rebuild the read models and check the master key",
		Args:  exactArgs("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			if inst != "" {
				env.cfg.Instance = inst
			}
			return runRestore(c.Context(), env, args[0], identity, force)
		},
	}
	restore.Flags().BoolVar(&force, "force", false, "restore over a database that holds events (a backup of it is taken first)")
	restore.Flags().StringVar(&identity, "identity", "", "age identity file to decrypt an encrypted backup with")
	restore.Flags().StringVar(&inst, "instance", "", "restore into this instance instead of LEDGER_INSTANCE")
	return []*cobra.Command{backup, list, verify, restore}
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// backupDir is where backups are written and listed.
func backupDir(env *environment) string {
	if env.cfg.BackupDir != "" {
		return env.cfg.BackupDir
	}
	return filepath.Join(env.cfg.InstanceDir(), "backups")
}

// pgTool is the path of a PostgreSQL client program beside the server binaries the
// instance uses, so that the dump matches the server's major version.
func pgTool(env *environment, name string) (string, error) {
	bin, err := pgembed.FindBinaries(env.cfg.PostgresBin)
	if err != nil {
		return "", usageError{err}
	}
	p := filepath.Join(bin, name)
	if _, err := os.Stat(p); err != nil {
		return "", usageError{fmt.Errorf("%s not found beside the PostgreSQL binaries in %s", name, bin)}
	}
	return p, nil
}

func runBackup(ctx context.Context, env *environment, out string, recipientTexts []string) (string, backupManifest, error) {
	env.quietDatabase()
	if err := env.cfg.Validate(); err != nil {
		return "", backupManifest{}, usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	var recipients []age.Recipient
	for _, r := range recipientTexts {
		rs, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil {
			return "", backupManifest{}, usageError{fmt.Errorf("--encrypt-to %q: %w", r, err)}
		}
		recipients = append(recipients, rs...)
	}
	dir, err := env.prepareDatabase()
	if err != nil {
		return "", backupManifest{}, err
	}
	db, err := database.Open(ctx, env.cfg, dir, env.log)
	if err != nil {
		return "", backupManifest{}, err
	}
	defer db.Close(context.WithoutCancel(ctx))
	return backupDatabase(ctx, env, db.MigrationURL, out, recipients...)
}

// backupDatabase dumps the database at url. The manifest is read in the very snapshot
// pg_dump dumps (exported from a repeatable-read transaction), so the head it names
// is exactly the dump's head however many writers run meanwhile.
// With recipients, pg_dump's output is encrypted as it is written: the plaintext dump
// never reaches the disk.
func backupDatabase(ctx context.Context, env *environment, url, out string, recipients ...age.Recipient) (string, backupManifest, error) {
	pgDump, err := pgTool(env, "pg_dump")
	if err != nil {
		return "", backupManifest{}, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", backupManifest{}, fmt.Errorf("backup: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return "", backupManifest{}, fmt.Errorf("backup: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var snapshot string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return "", backupManifest{}, fmt.Errorf("backup: export snapshot: %w", err)
	}
	m, err := readManifest(ctx, tx)
	if err != nil {
		return "", backupManifest{}, err
	}
	m.Instance = env.cfg.Instance
	m.CreatedAt = time.Now().UTC()
	m.Encrypted = len(recipients) > 0
	if out == "" {
		out = filepath.Join(backupDir(env), fmt.Sprintf("%s-%s-pos%d.dump", env.cfg.Instance, m.CreatedAt.Format("20060102T150405Z"), m.HeadPosition))
		if m.Encrypted {
			out += ".age"
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return "", backupManifest{}, fmt.Errorf("backup: %w", err)
	}
	tmp := out + ".partial"
	p := env.progress("dumping the database", 0)
	dump, err := newPGClient(ctx, pgDump, url, "--format=custom", "--snapshot="+snapshot)
	if err != nil {
		p.done()
		return "", backupManifest{}, err
	}
	err = dumpTo(ctx, tmp, recipients, dump.Cmd)
	dump.cleanup()
	p.done()
	if err != nil {
		_ = os.Remove(tmp)
		return "", backupManifest{}, err
	}
	if err := writeJSON(out+manifestSuffix, m); err != nil {
		_ = os.Remove(tmp)
		return "", backupManifest{}, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", backupManifest{}, fmt.Errorf("backup: %w", err)
	}
	return out, m, nil
}

// dumpTo runs cmd (pg_dump writing to stdout) into the file at path (0600), through an
// age encryption when there are recipients.
func dumpTo(ctx context.Context, path string, recipients []age.Recipient, cmd *exec.Cmd) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	var w io.WriteCloser = nopCloser{f}
	if len(recipients) > 0 {
		if w, err = age.Encrypt(f, recipients...); err != nil {
			return fmt.Errorf("backup: encrypt: %w", err)
		}
	}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("backup: pg_dump: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("backup: encrypt: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return f.Close()
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// readManifest reads the head, the newest checkpoint, the schema version and the key
// fingerprint in tx's snapshot.
func readManifest(ctx context.Context, tx pgx.Tx) (backupManifest, error) {
	var m backupManifest
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

func loadManifest(file string) (backupManifest, error) {
	var m backupManifest
	if err := readJSON(file+manifestSuffix, &m); err != nil {
		return m, usageError{fmt.Errorf("backup manifest %s: %w (it is written beside every backup)", file+manifestSuffix, err)}
	}
	return m, nil
}

// backupEntry is one listed backup.
type backupEntry struct {
	path     string
	size     int64
	manifest backupManifest
	check    *backupCheck
}

func listBackups(dir string) ([]backupEntry, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.dump"))
	if err != nil {
		return nil, err
	}
	encrypted, _ := filepath.Glob(filepath.Join(dir, "*.dump.age"))
	names = append(names, encrypted...)
	var out []backupEntry
	for _, n := range names {
		st, err := os.Stat(n)
		if err != nil {
			continue
		}
		e := backupEntry{path: n, size: st.Size()}
		if err := readJSON(n+manifestSuffix, &e.manifest); err != nil {
			continue // not one of ours, or half written
		}
		var c backupCheck
		if readJSON(n+verifiedSuffix, &c) == nil {
			e.check = &c
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].manifest.CreatedAt.Before(out[j].manifest.CreatedAt) })
	return out, nil
}

func runBackups(env *environment) error {
	if err := env.cfg.Validate(); err != nil {
		return usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	list, err := listBackups(backupDir(env))
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(env.stdout, "no backups in %s\n", backupDir(env))
		return nil
	}
	fmt.Fprintf(env.stdout, "%-20s  %10s  %10s  %-10s  %s\n", "TIME (UTC)", "SIZE", "POSITION", "VERIFIED", "FILE")
	for _, e := range list {
		v := "no"
		if e.check != nil {
			v = "FAILED"
			if e.check.OK {
				v = "yes"
			}
		}
		fmt.Fprintf(env.stdout, "%-20s  %10d  %10d  %-10s  %s\n", e.manifest.CreatedAt.Format("2006-01-02 15:04:05"), e.size, e.manifest.HeadPosition, v, e.path)
	}
	return nil
}

// pgRestore loads file into the database at url: in one transaction, dropping what the
// dump recreates, without the dumped owner and grants (the target's roles apply theirs).
// An encrypted file is decrypted with the identity as pg_restore reads it.
func pgRestore(ctx context.Context, env *environment, url, file string, encrypted bool, identity string) error {
	tool, err := pgTool(env, "pg_restore")
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return usageError{fmt.Errorf("restore: %w", err)}
	}
	defer f.Close()
	var in io.Reader = f
	if encrypted {
		if in, err = decryptBackup(f, identity); err != nil {
			return err
		}
	}
	cmd, err := newPGClient(ctx, tool, url, "--single-transaction", "--clean", "--if-exists", "--no-owner", "--no-privileges")
	if err != nil {
		return err
	}
	defer cmd.cleanup()
	cmd.Stdin = in
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("restore: pg_restore: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// decryptBackup opens an age-encrypted backup with the identities in the file at
// identity.
func decryptBackup(f io.Reader, identity string) (io.Reader, error) {
	if identity == "" {
		return nil, usageError{errors.New("the backup is encrypted (age): pass --identity FILE with an identity it was encrypted to")}
	}
	idf, err := os.Open(identity)
	if err != nil {
		return nil, usageError{fmt.Errorf("--identity: %w", err)}
	}
	defer idf.Close()
	ids, err := age.ParseIdentities(idf)
	if err != nil {
		return nil, usageError{fmt.Errorf("--identity %s: %w", identity, err)}
	}
	r, err := age.Decrypt(f, ids...)
	if err != nil {
		return nil, usageError{fmt.Errorf("cannot decrypt the backup with %s: %w", identity, err)}
	}
	return r, nil
}

// checkRestored verifies the chain of the database at url (and the events' MACs, with
// the instance's integrity key when it has one), rebuilds its read models and compares
// its head with the manifest's.
func checkRestored(ctx context.Context, env *environment, url string, m backupManifest) (backupCheck, error) {
	c := backupCheck{VerifiedAt: time.Now().UTC()}
	key, missing, err := storeIntegrityKey(env, asOwner)
	if err != nil {
		return c, err
	}
	var auth eventstore.Authenticator // none: the chain is verified without MACs
	if missing == nil {
		auth = key
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return c, err
	}
	defer pool.Close()
	rep, err := eventstore.New(pool, eventstore.Config{Authenticator: auth}).Verify(ctx)
	if err != nil {
		return c, err
	}
	c.HeadPosition, c.HeadHash, c.Events = rep.HeadPosition, hex.EncodeToString(rep.HeadHash), rep.Checked
	if !rep.OK() {
		c.Problem = fmt.Sprintf("chain broken at position %d: %s", rep.BrokenAt, rep.Reason)
		return c, nil
	}
	if _, err := projections.Rebuild(ctx, pool, projections.All()); err != nil {
		c.Problem = "read-model rebuild failed: " + err.Error()
		return c, nil
	}
	if m.HeadPosition != 0 && (c.HeadPosition != m.HeadPosition || c.HeadHash != m.HeadHash) {
		c.Problem = fmt.Sprintf("head is position %d hash %s, the manifest says position %d hash %s",
			c.HeadPosition, short(c.HeadHash), m.HeadPosition, short(m.HeadHash))
		return c, nil
	}
	c.OK = true
	return c, nil
}

func runVerifyBackup(ctx context.Context, env *environment, file, identity string) error {
	env.quietDatabase()
	c, err := verifyBackupFile(ctx, env, file, identity)
	if err != nil {
		return err
	}
	if !c.OK {
		return fmt.Errorf("backup %s FAILED verification: %s", file, c.Problem)
	}
	fmt.Fprintf(env.stdout, "backup %s verified: %d events, chain intact, read models rebuilt, head position %d hash %s matches the manifest\n",
		file, c.Events, c.HeadPosition, short(c.HeadHash))
	return nil
}

// verifyBackupFile restores file into a throwaway embedded cluster, checks it, and
// records the result beside it.
func verifyBackupFile(ctx context.Context, env *environment, file, identity string) (backupCheck, error) {
	m, err := loadManifest(file)
	if err != nil {
		return backupCheck{}, err
	}
	if m.Encrypted && identity == "" {
		_, err := decryptBackup(nil, "")
		return backupCheck{}, err
	}
	tmp, err := os.MkdirTemp("", "secretsledger-verify-backup-")
	if err != nil {
		return backupCheck{}, err
	}
	defer os.RemoveAll(tmp)
	p := env.progress("restoring into a throwaway cluster", 0)
	srv, err := pgembed.Open(ctx, pgembed.Options{Dir: filepath.Join(tmp, "db"), BinDir: env.cfg.PostgresBin, Logger: env.log,
		Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		p.done()
		return backupCheck{}, fmt.Errorf("verify-backup: start throwaway cluster: %w", err)
	}
	defer srv.Stop(context.WithoutCancel(ctx))
	err = pgRestore(ctx, env, srv.URL(), file, m.Encrypted, identity)
	p.done()
	var c backupCheck
	var usage usageError
	if errors.As(err, &usage) {
		return c, err // a missing or wrong identity says nothing about the backup
	}
	if err != nil {
		c = backupCheck{VerifiedAt: time.Now().UTC(), Problem: err.Error()}
	} else if c, err = checkRestored(ctx, env, srv.URL(), m); err != nil {
		return c, err
	}
	return c, writeJSON(file+verifiedSuffix, c)
}

// runScheduledBackups takes a verified backup every interval until ctx ends and prunes
// the instance's backups older than the retention, except the newest verified one.
func runScheduledBackups(ctx context.Context, env *environment, url string) {
	tick := time.NewTicker(env.cfg.BackupInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		path, m, err := backupDatabase(ctx, env, url, "")
		if err != nil {
			if ctx.Err() == nil {
				env.log.Error("scheduled backup", "err", err)
			}
			continue
		}
		c, err := verifyBackupFile(ctx, env, path, "")
		switch {
		case err != nil:
			env.log.Error("verifying the scheduled backup", "file", path, "err", err)
		case !c.OK:
			env.log.Error("the scheduled backup FAILED verification", "file", path, "problem", c.Problem)
		default:
			env.log.Info("scheduled backup", "file", path, "position", m.HeadPosition, "verified", true)
		}
		pruneBackups(env, time.Now())
	}
}

// pruneBackups removes the instance's backups created before now minus the retention.
// The newest verified backup is kept whatever its age: it is the one known to restore.
func pruneBackups(env *environment, now time.Time) {
	list, err := listBackups(backupDir(env))
	if err != nil {
		env.log.Warn("listing backups to prune", "err", err)
		return
	}
	keep := ""
	for _, e := range list { // oldest first
		if e.check != nil && e.check.OK {
			keep = e.path
		}
	}
	for _, e := range list {
		if e.path == keep || e.manifest.Instance != env.cfg.Instance || !e.manifest.CreatedAt.Before(now.Add(-env.cfg.BackupRetain)) {
			continue
		}
		for _, f := range []string{e.path, e.path + manifestSuffix, e.path + verifiedSuffix} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				env.log.Warn("pruning a backup", "file", f, "err", err)
			}
		}
		env.log.Info("pruned backup", "file", e.path)
	}
}

func runRestore(ctx context.Context, env *environment, file, identity string, force bool) error {
	env.quietDatabase()
	m, err := loadManifest(file)
	if err != nil {
		return err
	}
	if m.Encrypted {
		// Before anything is touched: the identity must open the file.
		f, err := os.Open(file)
		if err != nil {
			return usageError{fmt.Errorf("restore: %w", err)}
		}
		_, err = decryptBackup(f, identity)
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := env.cfg.Validate(); err != nil {
		return usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	dir, err := env.prepareDatabase()
	if err != nil {
		return err
	}
	// The key first: restoring data nobody can decrypt would only leave an instance
	// that refuses to start.
	if err := checkRestoreKey(env, dir, m); err != nil {
		return err
	}
	db, err := database.Open(ctx, env.cfg, dir, env.log)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	events, err := countEvents(ctx, db.MigrationURL)
	if err != nil {
		return err
	}
	if events > 0 {
		if !force {
			return usageError{fmt.Errorf("the database of instance %s holds %d events; restore only into an empty one (or --force, which takes a backup of it first)", env.cfg.Instance, events)}
		}
		path, _, err := backupDatabase(ctx, env, db.MigrationURL, "")
		if err != nil {
			return fmt.Errorf("restore: backup before --force: %w", err)
		}
		fmt.Fprintf(env.stdout, "backed up the existing database to %s\n", path)
	}
	if err := pgRestore(ctx, env, db.MigrationURL, file, m.Encrypted, identity); err != nil {
		return err
	}
	// The dump carries no grants; the target's runtime role gets its own, and a dump of
	// an older schema is brought up to date.
	if _, err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("restore: migrate: %w", err)
	}
	c, err := checkRestored(ctx, env, db.MigrationURL, m)
	if err != nil {
		return err
	}
	if !c.OK {
		return fmt.Errorf("restored %s but it FAILED verification: %s", file, c.Problem)
	}
	companies, secrets, err := countSecrets(ctx, db.MigrationURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "restored %s into instance %s: %d events, %d companies, %d secrets, head position %d hash %s; chain verified, read models rebuilt, master key %s matches\n",
		file, env.cfg.Instance, c.Events, companies, secrets, c.HeadPosition, short(c.HeadHash), m.KeyFingerprint)
	return nil
}

// checkRestoreKey compares the instance's master key with the backup's.
func checkRestoreKey(env *environment, dir instance.Dir, m backupManifest) error {
	if m.KeyFingerprint == "" {
		return nil // the backed-up instance never stored a secret
	}
	secretsDir := filepath.Join(dir.Path, "secrets")
	keyFile := env.getenv(localenc.EnvMasterKeyFile)
	if keyFile == "" {
		keyFile = filepath.Join(secretsDir, localenc.KeyFileName)
	}
	key, _, err := localenc.ReadMasterKey(env.getenv, secretsDir)
	if err != nil {
		return usageError{fmt.Errorf("the backup's secrets are encrypted with master key %s and no master key is configured: bring back the key file with fingerprint %s to %s (or set %s): %w",
			m.KeyFingerprint, m.KeyFingerprint, keyFile, localenc.EnvMasterKey, err)}
	}
	if key.Fingerprint() != m.KeyFingerprint {
		return usageError{fmt.Errorf("the backup's secrets are encrypted with master key %s but this instance's master key is %s (from %s): bring back the key file with fingerprint %s to %s (or set %s)",
			m.KeyFingerprint, key.Fingerprint(), key.Source, m.KeyFingerprint, keyFile, localenc.EnvMasterKey)}
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
