package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// Take backs up the instance's database (starting the embedded one when serve does not
// run) to out, or to a new file in Dir when out is empty, encrypted for the age
// recipients when there are any.
func Take(ctx context.Context, o Options, out string, recipientTexts []string) (string, Manifest, error) {
	if err := o.Config.Validate(); err != nil {
		return "", Manifest{}, usage.InvalidConfig(err)
	}
	recipients, err := parseRecipients(recipientTexts)
	if err != nil {
		return "", Manifest{}, err
	}
	dir, err := database.Prepare(o.Config)
	if err != nil {
		return "", Manifest{}, err
	}
	db, err := database.Open(ctx, o.Config, dir, o.Log)
	if err != nil {
		return "", Manifest{}, err
	}
	defer db.Close(context.WithoutCancel(ctx))
	return Dump(ctx, o, db.MigrationURL, out, recipients...)
}

// Dump dumps the database at url. The manifest is read in the very snapshot pg_dump
// dumps (exported from a repeatable-read transaction), so the head it names is exactly
// the dump's head however many writers run meanwhile.
// With recipients, pg_dump's output is encrypted as it is written: the plaintext dump
// never reaches the disk.
func Dump(ctx context.Context, o Options, url, out string, recipients ...age.Recipient) (string, Manifest, error) {
	pgDump, err := database.Tool(o.Config, "pg_dump")
	if err != nil {
		return "", Manifest{}, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", Manifest{}, fmt.Errorf("backup: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return "", Manifest{}, fmt.Errorf("backup: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var snapshot string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return "", Manifest{}, fmt.Errorf("backup: export snapshot: %w", err)
	}
	m, err := readManifest(ctx, tx)
	if err != nil {
		return "", Manifest{}, err
	}
	m.Instance = o.Config.Instance
	m.CreatedAt = time.Now().UTC()
	m.Encrypted = len(recipients) > 0
	if out == "" {
		out = filepath.Join(Dir(o.Config), fmt.Sprintf("%s-%s-pos%d.dump", o.Config.Instance, m.CreatedAt.Format("20060102T150405Z"), m.HeadPosition))
		if m.Encrypted {
			out += ".age"
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return "", Manifest{}, fmt.Errorf("backup: %w", err)
	}
	if err := dumpSnapshot(ctx, o, pgDump, url, snapshot, out+".partial", recipients); err != nil {
		return "", Manifest{}, err
	}
	if err := writeJSON(out+ManifestSuffix, m); err != nil {
		_ = os.Remove(out + ".partial")
		return "", Manifest{}, err
	}
	if err := os.Rename(out+".partial", out); err != nil {
		return "", Manifest{}, fmt.Errorf("backup: %w", err)
	}
	return out, m, nil
}

// dumpSnapshot runs pg_dump of the snapshot into tmp, which it removes on failure.
func dumpSnapshot(ctx context.Context, o Options, pgDump, url, snapshot, tmp string, recipients []age.Recipient) error {
	p := o.progress("dumping the database")
	defer p.Done()
	dump, err := database.NewClient(ctx, pgDump, url, "--format=custom", "--snapshot="+snapshot)
	if err != nil {
		return err
	}
	defer dump.Cleanup()
	if err := dumpTo(tmp, recipients, dump.Cmd); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// dumpTo runs cmd (pg_dump writing to stdout) into the file at path (0600), through an
// age encryption when there are recipients.
func dumpTo(path string, recipients []age.Recipient, cmd *exec.Cmd) error {
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
