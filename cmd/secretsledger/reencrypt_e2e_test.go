package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// storedRow is one local_secret_values row with its secret's company and wrapped key.
type storedRow struct {
	company, secret string
	version         int
	wrapped, ct     []byte
}

// storedMaterial reads every stored ciphertext by secret and reference.
func storedMaterial(t *testing.T, conn *pgx.Conn) map[[2]string]storedRow {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT k.company_id, k.secret_id, v.ref, v.version, k.wrapped_key, v.ciphertext
		FROM local_secret_values v JOIN local_secret_keys k USING (secret_id)`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]storedRow{}
	for rows.Next() {
		var r storedRow
		var ref string
		if err := rows.Scan(&r.company, &r.secret, &ref, &r.version, &r.wrapped, &r.ct); err != nil {
			t.Fatal(err)
		}
		out[[2]string{r.secret, ref}] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func countRows(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// reencryptFixture is an instance on a database of its own with three secrets of three
// versions in each of two companies, every version bound to the company's agent, and a
// purged secret.
type reencryptFixture struct {
	e      *instanceEnv
	dbURL  string
	board  *apiClient
	agents map[string]*apiClient
	want   map[string]map[string]string // company → env name → value
	purged string
}

func newReencryptFixture(t *testing.T) *reencryptFixture {
	f := &reencryptFixture{e: newInstance(t), dbURL: pgtest.NewDatabase(t), agents: map[string]*apiClient{}, want: map[string]map[string]string{}}
	f.e.vars = []string{"DATABASE_URL=" + f.dbURL}
	s := f.e.serve(t)
	f.e.waitReady(t, s)
	f.board = f.e.client(t, f.e.instanceToken(t))
	for _, co := range []string{companyA, companyB} {
		f.want[co] = map[string]string{}
		for i := range 3 {
			v := canary(fmt.Sprintf("s%d-v1", i))
			id := f.board.must(201, "POST", "/api/companies/"+co+"/secrets", `{"name": "S`+fmt.Sprint(i)+`", "value": "`+v+`"}`).json(t)["id"].(string)
			for version := 1; version <= 3; version++ {
				if version > 1 {
					v = canary(fmt.Sprintf("s%d-v%d", i, version))
					f.board.must(200, "POST", "/api/secrets/"+id+"/rotate", `{"value": "`+v+`"}`)
				}
				name := fmt.Sprintf("S%d_V%d", i, version)
				f.board.must(201, "POST", "/api/companies/"+co+"/secret-bindings", fmt.Sprintf(
					`{"secretId": "%s", "targetType": "agent", "targetId": "agent-r", "configPath": "env.%s", "versionSelector": %d}`, id, name, version))
				f.want[co][name] = v
			}
		}
		f.agents[co] = f.e.client(t, f.board.must(201, "POST", "/api/companies/"+co+"/agent-keys",
			`{"targetType": "agent", "targetId": "agent-r"}`).json(t)["token"].(string))
	}
	f.purged = f.board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "gone", "value": "`+canary("gone")+`"}`).json(t)["id"].(string)
	f.board.must(200, "DELETE", "/api/secrets/"+f.purged, "")
	f.board.must(200, "POST", "/api/secrets/"+f.purged+"/purge", `{"confirm": "`+f.purged+`"}`)
	f.resolveAll(t)
	// A server on an external database is found by its leases: the rekey refuses.
	conn, err := pgx.Connect(context.Background(), f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	pollUntil(t, 30*time.Second, func() string {
		if countRows(t, conn, `SELECT count(*) FROM ledger_leases WHERE expires_at > now()`) == 0 {
			return "the server holds no lease"
		}
		return ""
	})
	if code, _, errOut := f.e.run(t, "secrets", "rekey", "--reencrypt"); code != 2 || !strings.Contains(errOut, "is running on this database") {
		t.Fatalf("rekey beside a running server: exit %d\n%s", code, errOut)
	}
	s.stop(t)
	return f
}

// resolveAll resolves every bound version through the runtime API.
func (f *reencryptFixture) resolveAll(t *testing.T) {
	t.Helper()
	for co, want := range f.want {
		var r struct{ Env map[string]string }
		if err := json.Unmarshal(f.agents[co].must(200, "POST", "/api/runtime/resolve", `{}`).body, &r); err != nil {
			t.Fatal(err)
		}
		for name, v := range want {
			if r.Env[name] != v {
				t.Fatalf("%s of company %s does not resolve to its value", name, co)
			}
		}
	}
}

// `secrets rekey --reencrypt` after a suspected master key leak: a new master key, a
// fresh data key for every live secret and every stored version re-encrypted under it,
// so the old master key with an old dump of the data keys opens none of the new
// ciphertexts. A run killed between two secrets leaves everything readable and the
// next run finishes it; the purged secret stays shredded.
func TestRekeyReencryptSurvivesAKillAndResumes(t *testing.T) {
	t.Parallel()
	f := newReencryptFixture(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	before := storedMaterial(t, conn)
	var live []string
	for _, r := range before {
		if r.wrapped != nil && !slices.Contains(live, r.secret) {
			live = append(live, r.secret)
		}
	}
	slices.Sort(live)
	if len(live) != 6 {
		t.Fatalf("%d live secrets stored, want 6", len(live))
	}
	keyFile := filepath.Join(f.e.home, "instances", "default", "secrets", "master.key")
	oldKeyText, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	rekeyKilledRunStep(t, f, conn, live, keyFile, oldKeyText)
	rekeyResumedRunStep(t, f, conn, before, oldKeyText)
}

// rekeyKilledRunStep: another transaction holds the second secret's values, so the run
// commits the first secret and then waits there; it is killed while it waits. The new
// master key is in place, five secrets are pending, and every secret resolves.
func rekeyKilledRunStep(t *testing.T, f *reencryptFixture, conn *pgx.Conn, live []string, keyFile string, oldKeyText []byte) {
	t.Helper()
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM local_secret_values WHERE secret_id = $1 FOR SHARE`, live[1]); err != nil {
		t.Fatal(err)
	}
	run := f.e.command("secrets", "rekey", "--reencrypt")
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, 60*time.Second, func() string {
		if countRows(t, conn, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%FROM local_secret_values%FOR UPDATE%'`) == 0 {
			return "the run does not wait on the second secret"
		}
		return ""
	})
	_ = run.Process.Kill()
	_ = run.Wait()
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "rewrapped 6 data keys") {
		t.Fatalf("the killed run's output: %s", out.String())
	}
	pollUntil(t, 30*time.Second, func() string { // the killed run's transaction ends when PostgreSQL sees it gone
		if n := countRows(t, conn, `SELECT count(*) FROM local_secret_keys WHERE reencrypt_pending`); n != 5 {
			return fmt.Sprintf("%d secrets pending, want 5", n)
		}
		return ""
	})
	if _, out, _ := f.e.run(t, "doctor"); !strings.Contains(out, "WARN re-encryption unfinished: 5 secrets") {
		t.Fatalf("doctor after the killed run:\n%s", out)
	}
	newKeyText, err := os.ReadFile(keyFile)
	if err != nil || bytes.Equal(newKeyText, oldKeyText) {
		t.Fatalf("the killed run did not put the new master key in place: %v", err)
	}
	s := f.e.serve(t) // between the two runs every secret resolves
	f.e.waitReady(t, s)
	f.resolveAll(t)
	s.stop(t)
}

// rekeyResumedRunStep: the next run finishes the re-encryption; the purged secret stays
// shredded, and the old master key with an old dump of the data keys opens none of the
// new ciphertexts.
func rekeyResumedRunStep(t *testing.T, f *reencryptFixture, conn *pgx.Conn, before map[[2]string]storedRow, oldKeyText []byte) {
	t.Helper()
	code, stdout, stderr := f.e.run(t, "secrets", "rekey", "--reencrypt")
	if code != 0 || !strings.Contains(stdout, "resuming the re-encryption: 5 secrets left") || !strings.Contains(stdout, "re-encrypted 5 secrets") {
		t.Fatalf("resumed run: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := countRows(t, conn, `SELECT count(*) FROM local_secret_keys WHERE reencrypt_pending`); n != 0 {
		t.Fatalf("%d secrets still pending", n)
	}
	if n := countRows(t, conn, `SELECT count(*) FROM local_secret_keys WHERE secret_id = $1 AND wrapped_key IS NULL`, f.purged); n != 1 {
		t.Fatal("the purged secret has a data key again")
	}
	oldKey, err := localenc.ParseKey(string(oldKeyText))
	if err != nil {
		t.Fatal(err)
	}
	oldSealer, err := localenc.NewSealer(localenc.NewMasterKey(oldKey, "old"))
	if err != nil {
		t.Fatal(err)
	}
	after := storedMaterial(t, conn)
	for at, r := range after {
		if r.wrapped == nil {
			continue
		}
		b := before[at]
		if bytes.Equal(r.wrapped, b.wrapped) || bytes.Equal(r.ct, b.ct) {
			t.Fatalf("secret %s v%d kept its data key or ciphertext", r.secret, r.version)
		}
		// The attacker: the old master key, an old dump of the data keys, the new values.
		if _, err := oldSealer.Decrypt(b.wrapped, r.ct, r.company, r.secret, r.version); err == nil {
			t.Fatalf("the old data key opens the new ciphertext of %s v%d", r.secret, r.version)
		}
	}
	if _, out, _ := f.e.run(t, "doctor"); strings.Contains(out, "re-encryption") {
		t.Fatalf("doctor after the resumed run:\n%s", out)
	}
	if code, out, _ := f.e.run(t, "verify"); code != 0 || !strings.Contains(out, "ok:") {
		t.Fatalf("verify after the re-encryption: %d %s", code, out)
	}
	s := f.e.serve(t)
	f.e.waitReady(t, s)
	f.resolveAll(t)
	s.stop(t)
}

// Fingerprints are keyed per company: the same value in two companies has two
// fingerprints in the versions API, so another company's fingerprints are no oracle;
// within one company equal values still match.
func TestFingerprintsDifferAcrossCompanies(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	s := e.serve(t)
	e.waitReady(t, s)
	board := e.client(t, e.instanceToken(t))
	guess := canary("guess")
	fingerprintOf := func(co, name string) string {
		t.Helper()
		id := board.must(201, "POST", "/api/companies/"+co+"/secrets", `{"name": "`+name+`", "value": "`+guess+`"}`).json(t)["id"].(string)
		versions := board.must(200, "GET", "/api/secrets/"+id+"/versions", "").list(t)
		fp, _ := versions[0]["fingerprint"].(string)
		if len(versions) != 1 || fp == "" {
			t.Fatalf("versions of %s: %v", name, versions)
		}
		return fp
	}
	a1, a2, b := fingerprintOf(companyA, "one"), fingerprintOf(companyA, "two"), fingerprintOf(companyB, "three")
	if a1 != a2 {
		t.Fatal("equal values of one company have different fingerprints")
	}
	if a1 == b {
		t.Fatal("equal values of two companies have equal fingerprints")
	}
	s.stop(t)
}

// The re-encryption draws its progress, secrets done of the total, on a terminal.
func TestReencryptShowsProgressOnATerminal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewMigratedPool(t)
	oldKey, newKey := localenc.NewMasterKey([localenc.KeySize]byte{1}, "old"), localenc.NewMasterKey([localenc.KeySize]byte{2}, "new")
	old, err := localenc.NewProvider(pool, oldKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.EnsureKeyCheck(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := old.Put(ctx, providers.Ref{CompanyID: companyA, SecretID: fmt.Sprintf("SEC%d", i), Version: 1}, providers.NewValue([]byte("v"))); err != nil {
			t.Fatal(err)
		}
	}
	next, err := localenc.NewProvider(pool, newKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Rekey(ctx, next.Sealer(), true); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	env := newEnvironment(func(string) string { return "" }, nil, &stdout, &stderr)
	env.stderrTTY = true
	if err := reencrypt(ctx, env, next, 3); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "re-encrypting the secrets: ") || !strings.HasSuffix(stderr.String(), "\r\033[K") {
		t.Fatalf("progress on a terminal: %q", stderr.String())
	}
	if !strings.Contains(stdout.String(), "re-encrypted 3 secrets under fresh data keys wrapped by master key "+newKey.Fingerprint()) {
		t.Fatalf("stdout: %q", stdout.String())
	}
}
