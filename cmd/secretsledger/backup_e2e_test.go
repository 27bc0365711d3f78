package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/backup"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// backupPath is the file `db backup` reports writing.
func backupPath(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^backup (\S+\.dump(?:\.age)?): position (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("db backup output: %q", out)
	}
	return m[1]
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupAndRestoreRunbook runs docs/runbooks.md "Backup and restore" on the real
// binary: an instance with secrets, bindings and access history is backed up while it
// serves, destroyed, and restored with its master key; a wrong key is refused first.
func TestBackupAndRestoreRunbook(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	token := e.instanceToken(t)
	board := e.client(t, token)
	value := canary("backup")
	sid := board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Backup me", "value": "`+value+`"}`).json(t)["id"].(string)
	board.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+sid+`", "targetType": "agent", "targetId": "agent-b", "configPath": "env.API_KEY", "versionSelector": "latest"}`)
	agentToken := board.must(201, "POST", "/api/companies/"+companyA+"/agent-keys", `{"targetType": "agent", "targetId": "agent-b"}`).json(t)["token"].(string)
	resolve := func() string {
		t.Helper()
		var r struct{ Env map[string]string }
		if err := json.Unmarshal(e.client(t, agentToken).must(200, "POST", "/api/runtime/resolve", `{"runId": "run-1"}`).body, &r); err != nil {
			t.Fatal(err)
		}
		return r.Env["API_KEY"]
	}
	if resolve() != value {
		t.Fatal("the bound agent did not resolve the value before the backup")
	}
	listBefore := string(board.must(200, "GET", "/api/companies/"+companyA+"/secrets", "").body)
	if n := len(board.must(200, "GET", "/api/secrets/"+sid+"/access-events", "").list(t)); n != 1 {
		t.Fatalf("access events before the backup: %d", n)
	}

	file := backupVerifiedStep(t, e)
	safe, safeFile, instDir := backupLeavesTheMachineStep(t, e, file, value)

	// The instance is lost.
	s.stop(t)
	if err := os.RemoveAll(instDir); err != nil {
		t.Fatal(err)
	}

	restoreWithTheWrongKeyIsRefusedStep(t, e, instDir, safeFile)
	restoreWithTheKeysStep(t, e, instDir, safe, safeFile)

	// Step 4: verify, serve, the same secrets, the same resolution.
	if code, out, errOut := e.run(t, "verify"); code != 0 || !strings.HasPrefix(out, "ok:") || !strings.Contains(out, "event MACs: every event") {
		t.Fatalf("verify after restore: %d %s %s", code, out, errOut)
	}
	s = e.serve(t)
	e.waitReady(t, s)
	if listAfter := string(board.must(200, "GET", "/api/companies/"+companyA+"/secrets", "").body); listAfter != listBefore {
		t.Fatalf("secrets after restore differ:\nbefore %s\nafter  %s", listBefore, listAfter)
	}
	if n := len(board.must(200, "GET", "/api/secrets/"+sid+"/access-events", "").list(t)); n != 1 {
		t.Fatalf("access history after restore: %d events, want 1", n)
	}
	if resolve() != value {
		t.Fatal("the bound agent resolves another value after the restore")
	}
}

// backupVerifiedStep: step 1: back up while serve runs, and prove the backup by a
// restore. It returns the backup file.
func backupVerifiedStep(t *testing.T, e *instanceEnv) string {
	t.Helper()
	code, out, errOut := e.run(t, "db", "backup", "--verify")
	if code != 0 {
		t.Fatalf("db backup --verify: %d %s %s", code, out, errOut)
	}
	file := backupPath(t, out)
	if !strings.Contains(out, "verified:") || !strings.Contains(out, "matches the manifest") {
		t.Fatalf("db backup --verify did not verify: %s", out)
	}
	if code, out, _ := e.run(t, "db", "backups"); code != 0 || !strings.Contains(out, "yes") || !strings.Contains(out, file) {
		t.Fatalf("db backups: %d %s", code, out)
	}
	return file
}

// backupLeavesTheMachineStep: step 2: the backup, the master key and the integrity key
// leave the machine; the manifest holds no key and the dump no plaintext. It returns the
// safe place, the backup there and the instance's directory.
func backupLeavesTheMachineStep(t *testing.T, e *instanceEnv, file, value string) (string, string, string) {
	t.Helper()
	safe := t.TempDir()
	instDir := filepath.Join(e.home, "instances", "default")
	for _, f := range []string{file, file + backup.ManifestSuffix} {
		copyFile(t, f, filepath.Join(safe, filepath.Base(f)))
	}
	copyFile(t, filepath.Join(instDir, "secrets", localenc.KeyFileName), filepath.Join(safe, "master.key"))
	copyFile(t, filepath.Join(instDir, "secrets", "integrity.key"), filepath.Join(safe, "integrity.key"))
	safeFile := filepath.Join(safe, filepath.Base(file))
	b, err := os.ReadFile(safeFile + backup.ManifestSuffix)
	if err != nil || strings.Contains(string(b), strings.TrimSpace(readFile(t, filepath.Join(safe, "master.key")))) {
		t.Fatalf("manifest unreadable or holds the key: %v", err)
	}
	if dump := readFile(t, safeFile); strings.Contains(dump, value) {
		t.Fatal("plaintext in the backup")
	}
	return safe, safeFile, instDir
}

// restoreWithTheWrongKeyIsRefusedStep: step 3, wrong: a restore with another key is
// refused, naming both fingerprints and the key file to bring back, and leaves the
// database untouched.
func restoreWithTheWrongKeyIsRefusedStep(t *testing.T, e *instanceEnv, instDir, safeFile string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(instDir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	wrong, err := localenc.GenerateKeyFile(filepath.Join(instDir, "secrets", localenc.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := backup.LoadManifest(safeFile)
	if err != nil || m.KeyFingerprint == "" {
		t.Fatalf("manifest %+v %v", m, err)
	}
	code, out, errOut := e.run(t, "db", "restore", safeFile)
	if code != 2 || !strings.Contains(errOut, m.KeyFingerprint) || !strings.Contains(errOut, wrong.Fingerprint()) ||
		!strings.Contains(errOut, filepath.Join(instDir, "secrets", localenc.KeyFileName)) {
		t.Fatalf("restore with the wrong key: %d %s %s", code, out, errOut)
	}
}

// restoreWithTheKeysStep: step 3: bring back the keys, restore; a second restore over
// the now non-empty database is refused.
func restoreWithTheKeysStep(t *testing.T, e *instanceEnv, instDir, safe, safeFile string) {
	t.Helper()
	copyFile(t, filepath.Join(safe, "master.key"), filepath.Join(instDir, "secrets", localenc.KeyFileName))
	copyFile(t, filepath.Join(safe, "integrity.key"), filepath.Join(instDir, "secrets", "integrity.key"))
	code, out, errOut := e.run(t, "db", "restore", safeFile)
	if code != 0 || !strings.Contains(out, "1 companies, 1 secrets") || !strings.Contains(out, "chain verified") {
		t.Fatalf("restore: %d %s %s", code, out, errOut)
	}
	// A second restore over the now non-empty database is refused.
	if code, _, errOut := e.run(t, "db", "restore", safeFile); code != 2 || !strings.Contains(errOut, "--force") {
		t.Fatalf("restore over a non-empty database: %d %s", code, errOut)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBackupWhileWriting backs up while 8 clients write: the dump is one snapshot, so
// its chain verifies and its head is at or after every write acknowledged before the
// backup started.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	board := e.client(t, e.instanceToken(t))
	var mu sync.Mutex
	var acked int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := board.try("POST", "/api/companies/"+companyA+"/secrets", fmt.Sprintf(`{"name": "w%d-%d", "value": "v"}`, w, i))
				if err != nil || r.status != 201 {
					continue
				}
				pos, err := strconv.ParseInt(r.header.Get("X-Ledger-Position"), 10, 64)
				if err != nil {
					continue
				}
				mu.Lock()
				acked = max(acked, pos)
				mu.Unlock()
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	// Let the writers get going, polled rather than slept.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		a := acked
		mu.Unlock()
		if a >= 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writers acknowledged only up to position %d", a)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	before := acked
	mu.Unlock()
	code, out, errOut := e.run(t, "db", "backup")
	if code != 0 {
		t.Fatalf("db backup: %d %s %s", code, out, errOut)
	}
	file := backupPath(t, out)
	m, err := backup.LoadManifest(file)
	if err != nil {
		t.Fatal(err)
	}
	if m.HeadPosition < before {
		t.Fatalf("backup head %d is before position %d, acknowledged before the backup started", m.HeadPosition, before)
	}
	if code, out, errOut := e.run(t, "db", "verify-backup", file); code != 0 || !strings.Contains(out, "matches the manifest") {
		t.Fatalf("verify-backup: %d %s %s", code, out, errOut)
	}
	c, err := backup.LoadCheck(file)
	if err != nil || !c.OK || c.HeadPosition != m.HeadPosition || c.Events != m.HeadPosition {
		t.Fatalf("verification record %+v (manifest head %d): %v", c, m.HeadPosition, err)
	}
}

// TestScheduledBackupsArePruned runs serve with a short interval and retention: new
// backups keep coming, old ones go, and the newest verified one stays.
func TestScheduledBackupsArePruned(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	e.vars = append(e.vars, "LEDGER_BACKUP_INTERVAL=1s", "LEDGER_BACKUP_RETAIN=1s")
	s := e.serve(t)
	e.waitReady(t, s)
	dir := filepath.Join(e.home, "instances", "default", "backups")
	seen := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.dump"))
		for _, f := range files {
			seen[f] = true
		}
		gone := 0
		for f := range seen {
			if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
				gone++
			}
		}
		if gone >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d backups seen, %d pruned; log:\n%s", len(seen), gone, s.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, out, _ := e.run(t, "db", "backups")
	if code != 0 || !strings.Contains(out, " yes ") {
		t.Fatalf("no verified backup kept: %d %s", code, out)
	}
}

// TestEncryptedBackup encrypts a backup for an age recipient: it verifies and restores
// with the identity, and is refused without it or with another one.
func TestEncryptedBackup(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	board := e.client(t, e.instanceToken(t))
	value := canary("encrypted")
	board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "Sealed", "value": "`+value+`"}`)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	idFile, otherFile := filepath.Join(keys, "backup.agekey"), filepath.Join(keys, "other.agekey")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(otherFile, []byte(other.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.run(t, "db", "backup", "--encrypt-to", id.Recipient().String())
	if code != 0 {
		t.Fatalf("encrypted backup: %d %s %s", code, out, errOut)
	}
	file := backupPath(t, out+"\n")
	if !strings.HasSuffix(file, ".dump.age") {
		t.Fatalf("encrypted backup named %s", file)
	}
	raw := readFile(t, file)
	if strings.HasPrefix(raw, "PGDMP") || strings.Contains(raw, "secret.created") || !strings.HasPrefix(raw, "age-encryption.org/") {
		t.Fatal("the backup is not encrypted")
	}
	for _, args := range [][]string{{"db", "verify-backup", file}, {"db", "verify-backup", "--identity", otherFile, file}} {
		if code, out, errOut := e.run(t, args...); code != 2 || !strings.Contains(errOut, "identity") {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
	}
	if code, out, errOut := e.run(t, "db", "verify-backup", "--identity", idFile, file); code != 0 || !strings.Contains(out, "matches the manifest") {
		t.Fatalf("verify-backup with the identity: %d %s %s", code, out, errOut)
	}
	// Restore into a second instance with the master key brought over.
	restored := filepath.Join(e.home, "instances", "restored", "secrets")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(e.home, "instances", "default", "secrets", localenc.KeyFileName), filepath.Join(restored, localenc.KeyFileName))
	if code, out, errOut := e.run(t, "db", "restore", "--instance", "restored", file); code != 2 || !strings.Contains(errOut, "--identity") {
		t.Fatalf("restore without the identity: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := e.run(t, "db", "restore", "--instance", "restored", "--identity", idFile, file); code != 0 || !strings.Contains(out, "1 companies, 1 secrets") {
		t.Fatalf("restore with the identity: %d %s %s", code, out, errOut)
	}
}

// TestExportKey: doctor warns until the master key was exported; the export opens with
// the identity to exactly the key file's key, and never holds it in the clear.
func TestExportKey(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	s.stop(t)
	code, out, errOut := e.run(t, "doctor")
	if !strings.Contains(out, "WARN master key backup: none recorded") {
		t.Fatalf("doctor before export: %d %s %s", code, out, errOut)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "master.key.age")
	if code, _, errOut := e.run(t, "secrets", "export-key", "--out", file); code != 2 || !strings.Contains(errOut, "--encrypt-to") {
		t.Fatalf("export-key without a recipient: %d %s", code, errOut)
	}
	code, out, errOut = e.run(t, "secrets", "export-key", "--out", file, "--encrypt-to", id.Recipient().String())
	if code != 0 || !strings.Contains(out, "exported master key") {
		t.Fatalf("export-key: %d %s %s", code, out, errOut)
	}
	keyText := strings.TrimSpace(readFile(t, filepath.Join(e.home, "instances", "default", "secrets", localenc.KeyFileName)))
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := age.Decrypt(f, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil || strings.TrimSpace(string(plain)) != keyText || strings.Contains(readFile(t, file), keyText) {
		t.Fatalf("the export does not open to the key file's key (%v)", err)
	}
	if _, out, _ := e.run(t, "doctor"); strings.Contains(out, "WARN master key backup") || !strings.Contains(out, "master key backup: exported") {
		t.Fatalf("doctor after export:\n%s", out)
	}
}
