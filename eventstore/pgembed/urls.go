package pgembed

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

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
