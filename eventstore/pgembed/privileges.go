package pgembed

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// ServiceUser is the unprivileged system account PostgreSQL runs as when the ledger
// runs as root. It is created on first use.
// WARNING: persisted: it owns existing data directories.
const ServiceUser = "secretsledger"

// runAs is the identity PostgreSQL runs under; nil means "as this process".
type runAs struct {
	name     string
	uid, gid uint32
}

func (r *runAs) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true} // terminal signals go to us; we stop postgres ourselves.
	if r != nil {
		attr.Credential = &syscall.Credential{Uid: r.uid, Gid: r.gid}
	}
	return attr
}

// serviceIdentity returns nil when not root, else the service user, creating it when
// missing (falling back to the distribution's postgres account, then nobody).
func serviceIdentity(log *slog.Logger) (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if _, err := user.Lookup(ServiceUser); err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
			"--shell", "/usr/sbin/nologin", ServiceUser).CombinedOutput()
		if err != nil {
			log.Warn("could not create the postgres service user", "user", ServiceUser, "err", err, "output", string(out))
		} else {
			log.Info("created system user to run PostgreSQL (it refuses to run as root)", "user", ServiceUser)
		}
	}
	for _, name := range []string{ServiceUser, "postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		if uid == 0 {
			continue
		}
		return &runAs{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("pgembed: running as root and no unprivileged user to run PostgreSQL as; create user %q", ServiceUser)
}

// giveTo hands dir (recursively) to the service user.
func (r *runAs) giveTo(dir string) error {
	if r == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(r.uid), int(r.gid))
	})
}

// makeReachable grants search (o+x: traverse, not list) on every ancestor of dir that
// the service user could not otherwise pass, e.g. /root or a 0700 temp directory.
func (r *runAs) makeReachable(dir string, log *slog.Logger) error {
	if r == nil {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		canPass := mode&0o001 != 0 || (st != nil && st.Uid == r.uid && mode&0o100 != 0) ||
			(st != nil && st.Gid == r.gid && mode&0o010 != 0)
		if !canPass {
			if err := os.Chmod(p, fi.Mode()|0o001); err != nil {
				return fmt.Errorf("pgembed: let user %s reach %s: %w", r.name, p, err)
			}
			log.Warn("granted search permission (o+x) so PostgreSQL's service user can reach its data directory",
				"dir", p, "user", r.name)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
