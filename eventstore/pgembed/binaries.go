package pgembed

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// NotFoundError says that no PostgreSQL server binaries were found.
type NotFoundError struct {
	Searched []string
}

func (e *NotFoundError) Error() string {
	return "PostgreSQL server binaries (postgres, initdb) not found; install the PostgreSQL server package " +
		"(Debian/Ubuntu: apt-get install postgresql), or set LEDGER_POSTGRES_BIN to their directory, " +
		"or set DATABASE_URL to use an existing PostgreSQL server (searched: " + strings.Join(e.Searched, ", ") + ")"
}

// FindBinaries returns the directory holding postgres and initdb, trying in order:
// explicit (LEDGER_POSTGRES_BIN), `pg_config --bindir`, PATH, then the newest
// /usr/lib/postgresql/*/bin.
func FindBinaries(explicit string) (string, error) {
	var searched []string
	try := func(dir string) bool {
		if dir == "" {
			return false
		}
		searched = append(searched, dir)
		return isServerBinDir(dir)
	}
	if explicit != "" {
		if try(explicit) {
			return explicit, nil
		}
		return "", &NotFoundError{Searched: searched} // an explicit choice is never second-guessed
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); try(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if dir := filepath.Dir(p); try(dir) {
			return dir, nil
		}
	} else {
		searched = append(searched, "PATH")
	}
	for _, dir := range versionedDirs("/usr/lib/postgresql") {
		if try(dir) {
			return dir, nil
		}
	}
	if len(searched) == 0 || searched[len(searched)-1] == "PATH" {
		searched = append(searched, "/usr/lib/postgresql/*/bin")
	}
	return "", &NotFoundError{Searched: searched}
}

func isServerBinDir(dir string) bool {
	for _, name := range []string{"postgres", "initdb"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionedDirs lists root/<version>/bin, newest version first.
func versionedDirs(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	type v struct {
		n   float64
		dir string
	}
	var vs []v
	for _, e := range entries {
		n, err := strconv.ParseFloat(e.Name(), 64)
		if err != nil {
			continue
		}
		vs = append(vs, v{n, filepath.Join(root, e.Name(), "bin")})
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].n > vs[j].n })
	out := make([]string, len(vs))
	for i, x := range vs {
		out[i] = x.dir
	}
	return out
}
