package pgembed

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// recoverStale clears what a killed owner left behind: a postmaster still running on
// pgdata (the ledger died, its child did not) is shut down; a pid file naming a dead
// process, or one that is not a postmaster on this pgdata (the pid was reused), is
// removed. It runs only under the instance lock, so the postmaster it finds has no
// living owner.
func recoverStale(pgdata string, log *slog.Logger) error {
	pidFile := filepath.Join(pgdata, "postmaster.pid")
	pid, err := readPid(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		log.Warn("removing unreadable postmaster.pid", "file", pidFile, "err", err)
		return removePidFile(pidFile)
	}
	if !isPostmasterOf(pid, pgdata) {
		log.Warn("removing stale postmaster.pid left by a process that is gone", "file", pidFile, "pid", pid)
		return removePidFile(pidFile)
	}
	log.Warn("stopping an orphaned PostgreSQL left running by a ledger process that died", "pid", pid)
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 30 * time.Second}, {syscall.SIGQUIT, 10 * time.Second}} {
		if err := syscall.Kill(pid, step.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("pgembed: stop orphaned postmaster %d: %w", pid, err)
		}
		deadline := time.Now().Add(step.wait)
		for time.Now().Before(deadline) {
			if !alive(pid) {
				// A postmaster stopped by SIGQUIT leaves its pid file behind.
				if _, err := os.Stat(pidFile); err == nil && !isPostmasterOf(pid, pgdata) {
					return removePidFile(pidFile)
				}
				return nil
			}
			time.Sleep(50 * time.Millisecond) // polling a foreign process: no handle to wait on.
		}
	}
	return fmt.Errorf("pgembed: orphaned postmaster %d on %s does not stop", pid, pgdata)
}

func removePidFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pgembed: remove stale %s: %w", path, err)
	}
	return nil
}

func readPid(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, fmt.Errorf("empty pid file")
	}
	return strconv.Atoi(strings.TrimSpace(sc.Text()))
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err == nil || errors.Is(err, syscall.EPERM) {
		// A zombie is not alive for our purposes.
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || !strings.Contains(string(stat), ") Z ")
	}
	return false
}

// isPostmasterOf reports whether pid is a running postgres whose working directory is
// pgdata (the postmaster changes into its data directory).
func isPostmasterOf(pid int, pgdata string) bool {
	if !alive(pid) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	exe := filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0])
	if exe != "postgres" && exe != "postmaster" {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return false
	}
	want, err := filepath.EvalSymlinks(pgdata)
	if err != nil {
		want = pgdata
	}
	return filepath.Clean(cwd) == filepath.Clean(want)
}

// StopAbandoned stops the postmaster of an instance whose owner died (its lock is
// free) and reports whether the instance was abandoned. Test helpers use it to clean up
// after a test binary that crashed before stopping its cluster.
func StopAbandoned(dir string, log *slog.Logger) (bool, error) {
	lock, err := tryLock(filepath.Join(dir, lockName))
	if err != nil || lock == nil {
		return false, err // in use, or unreadable
	}
	defer lock.Close()
	return true, recoverStale(filepath.Join(dir, pgdataName), log)
}
