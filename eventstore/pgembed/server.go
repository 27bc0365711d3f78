package pgembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

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

func (s *Server) ping(ctx context.Context, db string) error {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(pctx, s.urlFor(db))
	if err != nil {
		return err
	}
	return conn.Close(pctx)
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
