package pgembed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func fakeBinDir(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "initdb"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startsPostgres skips a test that starts a real PostgreSQL under -short (the fast
// tier). The tests of this package cannot use pgtest, which imports it.
func startsPostgres(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts PostgreSQL: skipped under -short")
	}
}

func TestFindBinaries(t *testing.T) {
	root := t.TempDir()
	explicit := fakeBinDir(t, root)
	if got, err := FindBinaries(explicit); err != nil || got != explicit {
		t.Fatalf("explicit dir: %q, %v", got, err)
	}
	_, err := FindBinaries(filepath.Join(root, "missing"))
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "apt-get install postgresql") ||
		!strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), filepath.Join(root, "missing")) {
		t.Fatalf("missing explicit dir: %v", err)
	}
}

func TestVersionedDirsNewestFirst(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "16", "notaversion"} {
		if err := os.MkdirAll(filepath.Join(root, v, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := versionedDirs(root)
	want := []string{filepath.Join(root, "16", "bin"), filepath.Join(root, "15", "bin"), filepath.Join(root, "9.6", "bin")}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("versionedDirs = %v, want %v", got, want)
	}
}

// Two instances on one machine get separate clusters and ports; a second Open of the
// same instance attaches to the running cluster instead of starting another.
func TestInstancesDoNotCollideAndSecondOpenAttaches(t *testing.T) {
	startsPostgres(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dirA, dirB := filepath.Join(t.TempDir(), "db"), filepath.Join(t.TempDir(), "db")
	a, err := Open(ctx, Options{Dir: dirA, Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	b, err := Open(ctx, Options{Dir: dirB, Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(context.Background())
	if a.Port() == b.Port() {
		t.Fatalf("two instances share port %d", a.Port())
	}

	again, err := Open(ctx, Options{Dir: dirA})
	if err != nil {
		t.Fatal(err)
	}
	if again.Owned() || again.URL() != a.URL() || again.RuntimeURL() != a.RuntimeURL() {
		t.Fatalf("second Open: owned=%v url match=%v runtime url match=%v", again.Owned(), again.URL() == a.URL(),
			again.RuntimeURL() == a.RuntimeURL())
	}
	if err := again.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, a.URL())
	if err != nil {
		t.Fatalf("stopping an attached handle stopped the cluster: %v", err)
	}
	conn.Close(ctx)

	url, err := URLOf(dirA, "")
	if err != nil || url != a.URL() {
		t.Fatalf("URLOf = %q, %v", url, err)
	}
	// Password authentication is on: a wrong password is refused.
	wrong := strings.Replace(a.URL(), ":"+mustPassword(t, dirA)+"@", ":wrong@", 1)
	if conn, err := pgx.Connect(ctx, wrong); err == nil {
		conn.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
}

func mustPassword(t *testing.T, dir string) string {
	t.Helper()
	pw, err := readPassword(dir)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

func TestConfiguredPortInUse(t *testing.T) {
	startsPostgres(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "db"), Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	_, err = Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "db"), Port: a.Port(), Settings: map[string]string{"fsync": "off"}})
	var inUse *PortInUseError
	if !errors.As(err, &inUse) || !strings.Contains(err.Error(), "LEDGER_POSTGRES_PORT") {
		t.Fatalf("err = %v", err)
	}
}

// Every start makes RuntimeUser an unprivileged login role with the password recorded
// in db/runtime-password (0600); a cluster that has no such role yet (made before the
// roles were split) gets it at its next start.
func TestRuntimeRole(t *testing.T) {
	startsPostgres(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "db")
	opts := Options{Dir: dir, Settings: map[string]string{"fsync": "off"}}
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s != nil { // the last one opened, unless that failed
			_ = s.Stop(context.Background())
		}
	}()

	fi, err := os.Stat(filepath.Join(dir, runtimePasswordName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("runtime password file: %v, %v", fi, err)
	}
	if url, err := RuntimeURLOf(dir, ""); err != nil || url != s.RuntimeURL() {
		t.Fatalf("RuntimeURLOf = %v", err)
	}
	checkRuntimeRole(t, s)

	// Someone makes the role powerful by hand: the next start takes it back.
	admin, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "ALTER ROLE "+RuntimeUser+" SUPERUSER CREATEDB"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	pw := s.runtimePassword
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if s.runtimePassword != pw {
		t.Fatal("a restart changed the runtime password")
	}
	checkRuntimeRole(t, s)

	// An instance from before the split: no role, no password file.
	if admin, err = pgx.Connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "DROP ROLE "+RuntimeUser); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, runtimePasswordName)); err != nil {
		t.Fatal(err)
	}
	if _, err := RuntimeURLOf(dir, ""); err == nil || !strings.Contains(err.Error(), "not been initialised") {
		t.Fatalf("RuntimeURLOf without the file: %v", err)
	}
	if s, err = Open(ctx, opts); err != nil {
		t.Fatal(err)
	}
	checkRuntimeRole(t, s)
}

func checkRuntimeRole(t *testing.T, s *Server) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.RuntimeURL())
	if err != nil {
		t.Fatalf("connect as the runtime role: %v", err)
	}
	defer conn.Close(ctx)
	var user string
	var super, createDB, createRole, replication, bypassRLS, createInPublic bool
	err = conn.QueryRow(ctx, `SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,
		has_schema_privilege('public', 'CREATE') FROM pg_roles WHERE rolname = current_user`).
		Scan(&user, &super, &createDB, &createRole, &replication, &bypassRLS, &createInPublic)
	if err != nil {
		t.Fatal(err)
	}
	if user != RuntimeUser || super || createDB || createRole || replication || bypassRLS || createInPublic {
		t.Fatalf("runtime role %s: super=%v createdb=%v createrole=%v replication=%v bypassrls=%v create in public=%v",
			user, super, createDB, createRole, replication, bypassRLS, createInPublic)
	}
}

// A lock held when Open looks (by a process that then goes away, or only for the
// instant a forked process keeps a copy of the descriptor) does not leave Open waiting
// for an owner that will never serve: once the lock is free, Open owns the cluster.
func TestOpenOwnsTheClusterOnceTheLockIsFree(t *testing.T) {
	startsPostgres(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "db")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	held, err := tryLock(filepath.Join(dir, lockName))
	if err != nil || held == nil {
		t.Fatalf("lock: %v", err)
	}
	release := time.AfterFunc(300*time.Millisecond, func() { _ = held.Close() }) // the holder goes away
	defer release.Stop()
	s, err := Open(ctx, Options{Dir: dir, Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Stop(context.Background()) }()
	if !s.Owned() {
		t.Fatal("Open attached to no one instead of owning the cluster once the lock was free")
	}
	checkRuntimeRole(t, s)
}

// The embedded server does not inherit the ledger's environment, which may hold the
// master key or AWS credentials.
func TestServerDoesNotInheritTheEnvironment(t *testing.T) {
	startsPostgres(t)
	const canary = "canary-master-key-0123456789abcdef"
	t.Setenv("PAPERCLIP_SECRETS_MASTER_KEY", canary)
	t.Setenv("AWS_SECRET_ACCESS_KEY", canary)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "db"), Settings: map[string]string{"fsync": "off"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	if s.cmd == nil || s.cmd.Process == nil {
		t.Fatal("the server was not started by this handle")
	}
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(environ), canary) || !strings.Contains(string(environ), "LC_ALL=C") {
		t.Fatalf("postgres's environment: %q", strings.ReplaceAll(string(environ), "\x00", " "))
	}
}
