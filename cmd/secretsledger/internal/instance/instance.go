package instance

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dir is one instance directory.
type Dir struct{ Path string }

// Subdirectories of an instance.
// WARNING: persisted layout of existing instances.
var subdirs = []string{"db", "secrets", "nats", "backups"}

// DB is where the embedded PostgreSQL keeps its files.
func (d Dir) DB() string { return filepath.Join(d.Path, "db") }

// NotWritableError says the instance directory cannot be used.
type NotWritableError struct {
	Path string
	Err  error
}

func (e *NotWritableError) Error() string {
	return fmt.Sprintf("instance directory %s is not writable: %v (set LEDGER_HOME to a writable directory, or fix its owner and permissions)",
		e.Path, e.Err)
}

func (e *NotWritableError) Unwrap() error { return e.Err }

// Prepare creates the instance directory and its subdirectories (0700) and proves it
// writable by creating and removing a file.
func Prepare(path string) (Dir, error) {
	d := Dir{Path: path}
	for _, p := range append([]string{path}, d.subPaths()...) {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return d, &NotWritableError{Path: p, Err: unwrapPath(err)}
		}
	}
	f, err := os.CreateTemp(path, ".write-check-*")
	if err != nil {
		return d, &NotWritableError{Path: path, Err: unwrapPath(err)}
	}
	_ = f.Close()
	_ = os.Remove(f.Name())
	return d, nil
}

func (d Dir) subPaths() []string {
	out := make([]string, len(subdirs))
	for i, s := range subdirs {
		out[i] = filepath.Join(d.Path, s)
	}
	return out
}

// unwrapPath drops the *PathError wrapper, whose path we already name.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Finding is one result of Check.
type Finding struct {
	OK      bool
	Warning bool // a problem that does not stop the ledger
	Message string
}

// Check reports what Prepare does not refuse but an operator should fix: directories
// of the instance that other users can read or write. (Search permission, o+x, is
// expected where PostgreSQL's service user must reach db/.)
func (d Dir) Check() []Finding {
	var out []Finding
	for _, p := range append([]string{d.Path}, d.subPaths()...) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o066 != 0 {
			out = append(out, Finding{OK: true, Warning: true, Message: fmt.Sprintf(
				"%s has mode %04o: other users can read or write it; run chmod go-rw %s", p, fi.Mode().Perm(), p)})
		}
	}
	return out
}
