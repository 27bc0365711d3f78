package backup

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// keyExportMarker, in the instance's secrets/ directory, records the latest key export
// (never the key): doctor warns while there is none.
const keyExportMarker = "master.key.exported.json"

// keyExport is the content of keyExportMarker.
type keyExport struct {
	At          time.Time `json:"exported_at"`
	Fingerprint string    `json:"master_key_fingerprint"`
	File        string    `json:"file"`
}

// KeyExported is what ExportKey wrote.
type KeyExported struct {
	Fingerprint string
	// File is the absolute path of the encrypted key.
	File       string
	Recipients int
}

// ExportKey writes the instance's master key, encrypted for the age recipients, to out
// (a new file), and records the export (never the key) in the instance's secrets/.
func ExportKey(o Options, out string, recipientTexts []string) (KeyExported, error) {
	if out == "" || len(recipientTexts) == 0 {
		return KeyExported{}, usage.Errorf("export-key needs --out FILE and at least one --encrypt-to RECIPIENT: the key is never written in the clear")
	}
	if err := o.Config.Validate(); err != nil {
		return KeyExported{}, usage.InvalidConfig(err)
	}
	recipients, err := parseRecipients(recipientTexts)
	if err != nil {
		return KeyExported{}, err
	}
	secretsDir := filepath.Join(o.Config.InstanceDir(), "secrets")
	key, _, err := localenc.ReadMasterKey(o.Getenv, secretsDir)
	if err != nil {
		return KeyExported{}, usage.Errorf("no master key to export: %w", err)
	}
	if err := writeEncrypted(out, recipients, []byte(key.Encoded()+"\n")); err != nil {
		return KeyExported{}, err
	}
	abs, _ := filepath.Abs(out)
	if err := os.MkdirAll(secretsDir, 0o700); err != nil {
		return KeyExported{}, err
	}
	if err := writeJSON(filepath.Join(secretsDir, keyExportMarker), keyExport{At: time.Now().UTC(), Fingerprint: key.Fingerprint(), File: abs}); err != nil {
		return KeyExported{}, err
	}
	return KeyExported{Fingerprint: key.Fingerprint(), File: abs, Recipients: len(recipients)}, nil
}

// writeEncrypted writes data encrypted for recipients to the new file out (0600),
// removed again when anything fails.
func writeEncrypted(out string, recipients []age.Recipient, data []byte) error {
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return usage.Errorf("--out: %w", err)
	}
	w, err := age.Encrypt(f, recipients...)
	if err == nil {
		_, err = w.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out)
		return fmt.Errorf("export-key: %w", err)
	}
	return nil
}

// KeyFinding is doctor's line about the key backup of the key with fingerprint, from
// the record in secretsDir: a warning while the current key was never exported.
func KeyFinding(secretsDir, fingerprint string) (warn bool, msg string) {
	var k keyExport
	if err := readJSON(filepath.Join(secretsDir, keyExportMarker), &k); err != nil {
		return true, "master key backup: none recorded; without the key a database backup cannot be restored: run `secretsledger secrets export-key --out FILE --encrypt-to RECIPIENT` and keep FILE apart from the backups"
	}
	if k.Fingerprint != fingerprint {
		return true, fmt.Sprintf("master key backup: the last export (%s, %s) is of key %s, not the current key %s: export the current one",
			k.At.Format(time.RFC3339), k.File, k.Fingerprint, fingerprint)
	}
	return false, fmt.Sprintf("master key backup: exported %s to %s", k.At.Format(time.RFC3339), k.File)
}
