package database

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
)

// Client is a PostgreSQL client program (pg_dump, pg_restore, psql) started against
// a connection URL without its password: every local user reads a process's argv in
// /proc/<pid>/cmdline, so the password goes to the child through a passfile (0600, in
// a private directory, removed by Cleanup) named by PGPASSFILE. PostgreSQL's docs
// advise a passfile over PGPASSWORD, which some systems show to other users.
type Client struct {
	*exec.Cmd
	dir string
}

// NewClient prepares tool with args, then --dbname=<rawURL without the password>.
// Call Cleanup when the command has ended, whatever happened.
func NewClient(ctx context.Context, tool, rawURL string, args ...string) (*Client, error) {
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
	c := &Client{Cmd: exec.CommandContext(ctx, tool, append(args, "--dbname="+LibpqURL(u.String()))...)}
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
		c.Cleanup()
		return nil, fmt.Errorf("%s: passfile: %w", filepath.Base(tool), err)
	}
	c.Env = append(c.Env, "PGPASSFILE="+file)
	return c, nil
}

// Cleanup removes the passfile.
func (c *Client) Cleanup() {
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// passfileEscape escapes the characters a .pgpass field treats specially.
func passfileEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}

// pgxOnlyParams are connection URL parameters pgx reads and libpq (psql, pg_dump)
// refuses as unknown.
var pgxOnlyParams = []string{"default_query_exec_mode", "statement_cache_capacity", "description_cache_capacity",
	"pool_max_conns", "pool_min_conns", "pool_min_idle_conns", "pool_max_conn_lifetime", "pool_max_conn_lifetime_jitter",
	"pool_max_conn_idle_time", "pool_health_check_period"}

// LibpqURL is a database URL as psql takes it: without pgx's own parameters (behind a
// pooler DATABASE_URL carries default_query_exec_mode). A URL that does not parse, or a
// keyword=value string, is returned as it is.
func LibpqURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.RawQuery == "" {
		return raw
	}
	q := u.Query()
	for _, p := range pgxOnlyParams {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Tool is the path of a PostgreSQL client program beside the server binaries the
// instance uses, so that a dump matches the server's major version.
func Tool(cfg config.Config, name string) (string, error) {
	bin, err := pgembed.FindBinaries(cfg.PostgresBin)
	if err != nil {
		return "", usage.Wrap(err)
	}
	p := filepath.Join(bin, name)
	if _, err := os.Stat(p); err != nil {
		return "", usage.Errorf("%s not found beside the PostgreSQL binaries in %s", name, bin)
	}
	return p, nil
}

// URL is where the configured database is, as the owner or as the runtime role, without
// opening it: the configured URL, or the embedded cluster's as its instance directory
// records it (it need not be running). The configuration must be valid.
func URL(cfg config.Config, owner bool) (string, error) {
	if !cfg.Embedded() {
		if owner {
			return cfg.MigrationTarget(), nil
		}
		return cfg.DatabaseURL, nil
	}
	urlOf := pgembed.RuntimeURLOf
	if owner {
		urlOf = pgembed.URLOf
	}
	return urlOf(instance.Dir{Path: cfg.InstanceDir()}.DB(), "")
}
