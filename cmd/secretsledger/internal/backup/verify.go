package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/integritykey"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
	"github.com/secretsledger/secretsledger/projections"
)

// Verify restores file into a throwaway embedded cluster, checks it, and records the
// result beside it. An error is returned only when the check could not run; a backup
// that fails the check gives a Check that is not OK.
func Verify(ctx context.Context, o Options, file, identity string) (Check, error) {
	m, err := LoadManifest(file)
	if err != nil {
		return Check{}, err
	}
	if m.Encrypted && identity == "" {
		_, err := decrypt(nil, "")
		return Check{}, err
	}
	tmp, err := os.MkdirTemp("", "secretsledger-verify-backup-")
	if err != nil {
		return Check{}, err
	}
	defer os.RemoveAll(tmp)
	p := o.progress("restoring into a throwaway cluster")
	srv, err := pgembed.Open(ctx, pgembed.Options{Dir: filepath.Join(tmp, "db"), BinDir: o.Config.PostgresBin, Logger: o.Log,
		Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		p.Done()
		return Check{}, fmt.Errorf("verify-backup: start throwaway cluster: %w", err)
	}
	defer srv.Stop(context.WithoutCancel(ctx))
	err = pgRestore(ctx, o, srv.URL(), file, m.Encrypted, identity)
	p.Done()
	var c Check
	var fix usage.Error
	if errors.As(err, &fix) {
		return c, err // a missing or wrong identity says nothing about the backup
	}
	if err != nil {
		c = Check{VerifiedAt: time.Now().UTC(), Problem: err.Error()}
	} else if c, err = checkRestored(ctx, o, srv.URL(), m); err != nil {
		return c, err
	}
	return c, writeJSON(file+VerifiedSuffix, c)
}

// pgRestore loads file into the database at url: in one transaction, dropping what the
// dump recreates, without the dumped owner and grants (the target's roles apply theirs).
// An encrypted file is decrypted with the identity as pg_restore reads it.
func pgRestore(ctx context.Context, o Options, url, file string, encrypted bool, identity string) error {
	tool, err := database.Tool(o.Config, "pg_restore")
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return usage.Errorf("restore: %w", err)
	}
	defer f.Close()
	var in io.Reader = f
	if encrypted {
		if in, err = decrypt(f, identity); err != nil {
			return err
		}
	}
	cmd, err := database.NewClient(ctx, tool, url, "--single-transaction", "--clean", "--if-exists", "--no-owner", "--no-privileges")
	if err != nil {
		return err
	}
	defer cmd.Cleanup()
	cmd.Stdin = in
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("restore: pg_restore: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// decrypt opens an age-encrypted backup with the identities in the file at identity.
func decrypt(f io.Reader, identity string) (io.Reader, error) {
	if identity == "" {
		return nil, usage.Errorf("the backup is encrypted (age): pass --identity FILE with an identity it was encrypted to")
	}
	idf, err := os.Open(identity)
	if err != nil {
		return nil, usage.Errorf("--identity: %w", err)
	}
	defer idf.Close()
	ids, err := age.ParseIdentities(idf)
	if err != nil {
		return nil, usage.Errorf("--identity %s: %w", identity, err)
	}
	r, err := age.Decrypt(f, ids...)
	if err != nil {
		return nil, usage.Errorf("cannot decrypt the backup with %s: %w", identity, err)
	}
	return r, nil
}

// checkRestored verifies the chain of the database at url (and the events' MACs, with
// the instance's integrity key when it has one), rebuilds its read models and compares
// its head with the manifest's.
func checkRestored(ctx context.Context, o Options, url string, m Manifest) (Check, error) {
	c := Check{VerifiedAt: time.Now().UTC()}
	key, missing, err := integritykey.ForStore(o.Config, o.Log, true)
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
			c.HeadPosition, Short(c.HeadHash), m.HeadPosition, Short(m.HeadHash))
		return c, nil
	}
	c.OK = true
	return c, nil
}
