package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pgClient is a PostgreSQL client program (pg_dump, pg_restore, psql) started against
// a connection URL without its password: every local user reads a process's argv in
// /proc/<pid>/cmdline, so the password goes to the child through a passfile (0600, in
// a private directory, removed by cleanup) named by PGPASSFILE. PostgreSQL's docs
// advise a passfile over PGPASSWORD, which some systems show to other users.
type pgClient struct {
	*exec.Cmd
	dir string
}

// newPGClient prepares tool with args, then --dbname=<rawURL without the password>.
// Call cleanup when the command has ended, whatever happened.
func newPGClient(ctx context.Context, tool, rawURL string, args ...string) (*pgClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: the connection URL cannot be parsed", filepath.Base(tool))
	}
	password, _ := u.User.Password()
	q := u.Query()
	if p := q.Get("password"); p != "" && password == "" {
		password = p
	}
	if q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	c := &pgClient{Cmd: exec.CommandContext(ctx, tool, append(args, "--dbname="+libpqURL(u.String()))...)}
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PGPASSWORD=") && !strings.HasPrefix(kv, "PGPASSFILE=") {
			env = append(env, kv)
		}
	}
	c.Env = env
	if password == "" {
		return c, nil
	}
	if c.dir, err = os.MkdirTemp("", "secretsledger-pgpass-"); err != nil {
		return nil, fmt.Errorf("%s: passfile: %w", filepath.Base(tool), err)
	}
	file := filepath.Join(c.dir, "pgpass")
	// Any host, port, database and user: the file serves this one connection only.
	if err := os.WriteFile(file, []byte("*:*:*:*:"+passfileEscape(password)+"\n"), 0o600); err != nil {
		c.cleanup()
		return nil, fmt.Errorf("%s: passfile: %w", filepath.Base(tool), err)
	}
	c.Env = append(c.Env, "PGPASSFILE="+file)
	return c, nil
}

// cleanup removes the passfile.
func (c *pgClient) cleanup() {
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// passfileEscape escapes the characters a .pgpass field treats specially.
func passfileEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}
