package pgembed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Names inside the instance's db/ directory.
// WARNING: persisted layout of existing instances.
const (
	pgdataName          = "pgdata"
	passwordName        = "password"
	runtimePasswordName = "runtime-password"
	portName            = "port"
	logName             = "postgres.log"
	lockName            = "instance.lock"
	// SuperUser is the cluster's superuser role: it owns the schema and runs migrations.
	SuperUser = "secretsledger"
	// RuntimeUser is the unprivileged login role the ledger's server connects as. It is
	// created (or repaired) on every start of the cluster and owns nothing; what it may
	// do is granted after migrations.
	RuntimeUser = "ledger_runtime"
	// DefaultDatabase is the database the ledger uses.
	DefaultDatabase = "secretsledger"
)

// Options configure an embedded cluster.
type Options struct {
	// Dir is the instance's db/ directory.
	Dir string
	// BinDir holds postgres and initdb; empty means FindBinaries("").
	BinDir string
	// Port to listen on; 0 picks the last port used when free, else a free one.
	Port int
	// Database to create on first start; default DefaultDatabase.
	Database string
	// Settings are extra server settings (-c name=value), e.g. fsync=off in tests.
	Settings map[string]string
	// StartTimeout bounds start-up (initdb included); default 60s.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Server is a running embedded cluster, owned by this process or attached to.
type Server struct {
	opts            Options
	port            int
	password        string
	runtimePassword string
	owned           bool
	lock            *os.File
	cmd             *exec.Cmd
	exited          chan struct{}
	exitErr         error
}

// PortInUseError says the configured port is taken.
type PortInUseError struct{ Addr string }

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("embedded PostgreSQL cannot listen on %s: address already in use (set LEDGER_POSTGRES_PORT to another port)", e.Addr)
}

func (o Options) withDefaults() Options {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Open starts the instance's cluster, or attaches to it when another ledger process
// already owns it, and returns once the database accepts connections.
func Open(ctx context.Context, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgembed: create %s: %w", opts.Dir, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	lock, err := tryLock(filepath.Join(opts.Dir, lockName))
	if err != nil {
		return nil, err
	}
	if lock == nil {
		var s *Server
		if s, lock, err = attach(ctx, opts); lock == nil {
			return s, err
		}
		// The lock was free after all: its holder went away, or held it only for an
		// instant (a process forked elsewhere keeps a copy of the descriptor until it
		// execs). This process owns the cluster.
	}
	s := &Server{opts: opts, owned: true, lock: lock}
	if err := s.start(ctx); err != nil {
		_ = lock.Close()
		return nil, err
	}
	return s, nil
}

// tryLock takes an exclusive flock; nil, nil means another process holds it. The
// kernel drops the lock when its holder dies, even by kill -9.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgembed: open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("pgembed: lock %s: %w", path, err)
	}
	return f, nil
}

// attach waits for the cluster another process owns to accept connections. If the
// instance lock becomes free meanwhile, it returns the lock instead: the caller owns the
// cluster then.
func attach(ctx context.Context, opts Options) (*Server, *os.File, error) {
	s := &Server{opts: opts}
	for {
		var err error
		// The owner writes the runtime password only once the role accepts it.
		if s.password, err = readPassword(opts.Dir); err == nil {
			if s.runtimePassword, err = readRuntimePassword(opts.Dir); err == nil {
				if s.port, err = readPort(opts.Dir); err == nil {
					if err = s.ping(ctx, opts.Database); err == nil {
						return s, nil, nil
					}
				}
			}
		}
		if lock, lerr := tryLock(filepath.Join(opts.Dir, lockName)); lerr != nil || lock != nil {
			return nil, lock, lerr
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("pgembed: another process owns the embedded database in %s but it is not accepting connections: %w", opts.Dir, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// URL is the superuser's connection URL of the ledger's database: for migrations and
// operator commands, never for the server's pool.
func (s *Server) URL() string { return s.urlFor(s.opts.Database) }

// RuntimeURL is RuntimeUser's connection URL of the ledger's database.
func (s *Server) RuntimeURL() string {
	return connURL(RuntimeUser, s.port, s.runtimePassword, s.opts.Database)
}

// Port is the TCP port the cluster listens on.
func (s *Server) Port() int { return s.port }

// Owned reports whether this process started the cluster (and will stop it).
func (s *Server) Owned() bool { return s.owned }

func (s *Server) urlFor(db string) string {
	return connURL(SuperUser, s.port, s.password, db)
}

func connURL(user string, port int, password, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// URLOf returns the superuser's connection URL of the instance whose db/ directory is
// dir, from the files the owner left there; the cluster need not be running.
func URLOf(dir, database string) (string, error) {
	return urlOf(dir, database, SuperUser, readPassword)
}

// RuntimeURLOf is URLOf for RuntimeUser.
func RuntimeURLOf(dir, database string) (string, error) {
	return urlOf(dir, database, RuntimeUser, readRuntimePassword)
}

func urlOf(dir, database, user string, password func(string) (string, error)) (string, error) {
	if database == "" {
		database = DefaultDatabase
	}
	pw, err := password(dir)
	if err != nil {
		return "", err
	}
	port, err := readPort(dir)
	if err != nil {
		return "", err
	}
	return connURL(user, port, pw, database), nil
}

func readPassword(dir string) (string, error) { return readSecret(dir, passwordName) }

func readRuntimePassword(dir string) (string, error) { return readSecret(dir, runtimePasswordName) }

func readSecret(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", fmt.Errorf("pgembed: the embedded database in %s has not been initialised yet (start `secretsledger serve` once): %w", dir, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func readPort(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, portName))
	if err != nil {
		return 0, fmt.Errorf("pgembed: no port recorded in %s: %w", dir, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func (s *Server) start(ctx context.Context) error {
	log := s.opts.Logger
	if s.opts.BinDir == "" {
		dir, err := FindBinaries("")
		if err != nil {
			return err
		}
		s.opts.BinDir = dir
	}
	who, err := serviceIdentity(log)
	if err != nil {
		return err
	}
	pgdata := filepath.Join(s.opts.Dir, pgdataName)
	if err := recoverStale(pgdata, log); err != nil {
		return err
	}
	if err := s.initCluster(ctx, pgdata, who); err != nil {
		return err
	}
	if err := who.makeReachable(pgdata, log); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		port, err := s.choosePort()
		if err != nil {
			return err
		}
		s.port = port
		err = s.launch(ctx, pgdata, who)
		var inUse *PortInUseError
		if errors.As(err, &inUse) && s.opts.Port == 0 && attempt < 5 {
			log.Warn("embedded PostgreSQL port was taken meanwhile; trying another", "port", port)
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if err := os.WriteFile(filepath.Join(s.opts.Dir, portName), []byte(strconv.Itoa(s.port)+"\n"), 0o600); err != nil {
		_ = s.Stop(context.Background())
		return fmt.Errorf("pgembed: record port: %w", err)
	}
	if err := s.ensureDatabase(ctx); err != nil {
		_ = s.Stop(context.Background())
		return err
	}
	if err := s.ensureRuntimeRole(ctx); err != nil {
		_ = s.Stop(context.Background())
		return err
	}
	log.Info("embedded PostgreSQL ready", "port", s.port, "dir", pgdata, "bin", s.opts.BinDir)
	return nil
}

// initCluster runs initdb on first start. It initialises into a scratch directory and
// renames it into place, so a start killed half-way never leaves a broken pgdata.
func (s *Server) initCluster(ctx context.Context, pgdata string, who *runAs) error {
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); err == nil {
		var err error
		s.password, err = readPassword(s.opts.Dir)
		return err
	}
	if entries, err := os.ReadDir(pgdata); err == nil && len(entries) > 0 {
		return fmt.Errorf("pgembed: %s exists but holds no PostgreSQL cluster (no PG_VERSION); move it away", pgdata)
	}
	s.password = randomHex(24)
	if err := os.WriteFile(filepath.Join(s.opts.Dir, passwordName), []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgembed: write password: %w", err)
	}
	scratch := pgdata + ".initdb"
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("pgembed: clear %s: %w", scratch, err)
	}
	if err := os.Mkdir(scratch, 0o700); err != nil {
		return fmt.Errorf("pgembed: create %s: %w", scratch, err)
	}
	// initdb reads the password from a file the service user can read; it lives only
	// for the duration of initdb.
	pwfile := filepath.Join(scratch, "..", "initdb.pw")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgembed: write initdb password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := who.giveTo(scratch); err != nil {
		return fmt.Errorf("pgembed: give %s to %s: %w", scratch, who.name, err)
	}
	if err := who.giveTo(pwfile); err != nil {
		return fmt.Errorf("pgembed: give %s to %s: %w", pwfile, who.name, err)
	}
	if err := who.makeReachable(scratch, s.opts.Logger); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.opts.BinDir, "initdb"),
		"-D", scratch, "-U", SuperUser, "--pwfile", pwfile, "--auth=scram-sha-256",
		"--encoding=UTF8", "--locale=C")
	cmd.Dir = "/"
	cmd.SysProcAttr = who.sysProcAttr()
	cmd.Env = serverEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgembed: initdb failed: %w\n%s", err, tail(out, 20))
	}
	if err := os.Rename(scratch, pgdata); err != nil {
		return fmt.Errorf("pgembed: move the new cluster into place: %w", err)
	}
	s.opts.Logger.Info("initialised embedded PostgreSQL cluster", "dir", pgdata)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux.
	return hex.EncodeToString(b)
}

// choosePort prefers the configured port, then the last port used (so the URL an
// operator copied stays valid), then any free port.
func (s *Server) choosePort() (int, error) {
	if s.opts.Port != 0 {
		return s.opts.Port, nil
	}
	if last, err := readPort(s.opts.Dir); err == nil && portFree(last) && s.port != last {
		return last, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgembed: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// launch starts the postmaster and waits until it accepts connections.
func (s *Server) launch(ctx context.Context, pgdata string, who *runAs) error {
	logPath := filepath.Join(s.opts.Dir, logName)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("pgembed: open %s: %w", logPath, err)
	}
	defer logFile.Close() // the child keeps its own descriptor.
	logStart, _ := logFile.Seek(0, 2)

	args := []string{"-D", pgdata, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "logging_collector=off"}
	keys := make([]string, 0, len(s.opts.Settings))
	for k := range s.opts.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+s.opts.Settings[k])
	}
	cmd := exec.Command(filepath.Join(s.opts.BinDir, "postgres"), args...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = who.sysProcAttr()
	cmd.Env = serverEnv()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgembed: start postgres: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()

	for {
		err := s.ping(ctx, "postgres")
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			out := readFrom(logPath, logStart)
			if bytes.Contains(out, []byte("could not bind")) || bytes.Contains(out, []byte("Address already in use")) {
				return &PortInUseError{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))}
			}
			return fmt.Errorf("pgembed: postgres exited during start-up (%v); log %s:\n%s", s.exitErr, logPath, tail(out, 20))
		case <-ctx.Done():
			_ = s.Stop(context.Background())
			return fmt.Errorf("pgembed: postgres did not accept connections in time (log %s): %w", logPath, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) ping(ctx context.Context, db string) error {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(pctx, s.urlFor(db))
	if err != nil {
		return err
	}
	return conn.Close(pctx)
}

func (s *Server) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
	if err != nil {
		return fmt.Errorf("pgembed: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, s.opts.Database).Scan(&exists); err != nil {
		return fmt.Errorf("pgembed: look up database: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.opts.Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created meanwhile by someone else
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: create database %s: %w", s.opts.Database, err)
	}
	s.opts.Logger.Info("created database", "database", s.opts.Database)
	return nil
}

// Exited is closed when an owned postmaster exits; nil for an attached server.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Stop shuts an owned cluster down (fast shutdown: open transactions are rolled back,
// committed data is safe) and releases the instance lock. It does nothing for an
// attached server.
func (s *Server) Stop(ctx context.Context) error {
	if !s.owned {
		return nil
	}
	defer func() {
		if s.lock != nil {
			_ = s.lock.Close()
			s.lock = nil
		}
	}()
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-s.exited:
		s.opts.Logger.Info("embedded PostgreSQL stopped")
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	_ = s.cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown; crash recovery on next start.
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	return errors.New("pgembed: postgres did not stop in time and was shut down immediately")
}

func readFrom(path string, offset int64) []byte {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return nil
	}
	return b[offset:]
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// serverEnv is the environment initdb and postgres run with: what they need, nothing
// else. The ledger's own environment may hold the master key, AWS credentials or a
// database URL with its password, and a postgres process's environment is readable by
// its service user and, through pg_read_file('/proc/self/environ'), by the database's
// superuser.
func serverEnv() []string {
	env := []string{"LC_ALL=C"}
	for _, k := range []string{"PATH", "TZ", "TMPDIR", "LD_LIBRARY_PATH"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
