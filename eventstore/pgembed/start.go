package pgembed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// start brings up the cluster this process owns: initdb on first start, the postmaster
// on a free port (another one when the port was taken meanwhile), the recorded port, the
// ledger's database and the runtime role.
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
