package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/eventstore/pgembed"
)

func newDBCmd(env *environment) *cobra.Command {
	c := newGroup(env, "db", "database helpers")
	var owner bool
	url := &cobra.Command{
		Use:   "url [--owner]",
		Short: "print the runtime role's connection URL (--owner: the owner's), e.g. psql \"$(secretsledger db url --owner)\"",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			return runDBURL(env, owner)
		},
	}
	url.Flags().BoolVar(&owner, "owner", false, "print the owner's URL (migrations, maintenance) instead of the runtime role's")
	c.AddCommand(url)
	c.AddCommand(newBackupCmds(env)...)
	return c
}

func runDBURL(env *environment, owner bool) error {
	if err := env.cfg.Validate(); err != nil {
		return usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	if !env.cfg.Embedded() {
		url := env.cfg.DatabaseURL
		if owner {
			url = env.cfg.MigrationTarget()
		}
		fmt.Fprintln(env.stdout, libpqURL(url))
		return nil
	}
	urlOf := pgembed.RuntimeURLOf
	if owner {
		urlOf = pgembed.URLOf
	}
	url, err := urlOf(instance.Dir{Path: env.cfg.InstanceDir()}.DB(), "")
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, url)
	return nil
}

// pgxOnlyParams are connection URL parameters pgx reads and libpq (psql, pg_dump)
// refuses as unknown.
var pgxOnlyParams = []string{"default_query_exec_mode", "statement_cache_capacity", "description_cache_capacity",
	"pool_max_conns", "pool_min_conns", "pool_min_idle_conns", "pool_max_conn_lifetime", "pool_max_conn_lifetime_jitter",
	"pool_max_conn_idle_time", "pool_health_check_period"}

// libpqURL is a database URL as psql takes it: without pgx's own parameters (behind a
// pooler DATABASE_URL carries default_query_exec_mode). A URL that does not parse, or a
// keyword=value string, is returned as it is.
func libpqURL(raw string) string {
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
