package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/backup"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// masterKey reports whether the configured master key is the one the database's data
// keys are wrapped with, without creating a key file or recording a key check.
func (r *checker) masterKey(ctx context.Context, conn *pgx.Conn, dir instance.Dir) {
	key, _, err := localenc.ReadMasterKey(r.in.Getenv, filepath.Join(dir.Path, "secrets"))
	if errors.Is(err, os.ErrNotExist) {
		// The default key file is missing: serve would create a new key, which is
		// right only for an instance that holds no secrets yet.
		var recorded string
		var keys bool
		err := conn.QueryRow(ctx, `SELECT coalesce((SELECT key_fingerprint FROM local_encrypted_key_check), ''),
			EXISTS (SELECT 1 FROM local_secret_keys WHERE wrapped_key IS NOT NULL)`).Scan(&recorded, &keys)
		switch {
		case err != nil:
			r.report(instance.Finding{Message: fmt.Sprintf("master key: %v", err)})
		case recorded != "" || keys:
			if recorded == "" {
				recorded = "(not recorded yet)"
			}
			r.report(instance.Finding{Message: fmt.Sprintf("master key: no key at %s, but the database's secrets were written with %s; restore the key file or set %s",
				filepath.Join(dir.Path, "secrets", localenc.KeyFileName), recorded, localenc.EnvMasterKey)})
		default:
			r.report(instance.Finding{OK: true, Message: fmt.Sprintf("master key: none yet; serve creates %s", filepath.Join(dir.Path, "secrets", localenc.KeyFileName))})
		}
		return
	}
	if err != nil {
		r.report(instance.Finding{Message: "master key: " + err.Error()})
		return
	}
	sealer, err := localenc.NewSealer(key)
	if err != nil {
		r.report(instance.Finding{Message: "master key: " + err.Error()})
		return
	}
	state, err := localenc.VerifyKey(ctx, conn, sealer)
	if err != nil {
		r.report(instance.Finding{Message: err.Error()})
		return
	}
	msg := fmt.Sprintf("master key %s from %s ", key.Fingerprint(), key.Source)
	switch state {
	case localenc.KeyRecorded:
		msg += "matches the database's key check"
	case localenc.KeyUnrecorded:
		msg += "opens the stored data keys (serve records its key check)"
	default:
		msg += "(no secrets yet; serve records its key check)"
	}
	r.report(instance.Finding{OK: true, Message: msg})
	r.reencryption(ctx, conn)
	warn, backupMsg := backup.KeyFinding(filepath.Join(dir.Path, "secrets"), key.Fingerprint())
	r.report(instance.Finding{OK: true, Warning: warn, Message: backupMsg})
}

// reencryption warns when a `secrets rekey --reencrypt` stopped midway: some secrets are
// still under the data keys the leaked master key may have opened.
func (r *checker) reencryption(ctx context.Context, conn *pgx.Conn) {
	n, err := localenc.PendingReencryption(ctx, conn)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42703": // undefined_column
		// A schema before re-encryption: the migrations finding says it is behind.
	case err != nil:
		r.report(instance.Finding{OK: true, Warning: true, Message: "re-encryption: " + err.Error()})
	case n > 0:
		r.report(instance.Finding{OK: true, Warning: true, Message: fmt.Sprintf(
			"re-encryption unfinished: %d secrets are still under their old data keys; stop the server and run `secretsledger secrets rekey --reencrypt`", n)})
	}
}
