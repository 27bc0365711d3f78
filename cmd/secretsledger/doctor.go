package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/backup"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// doctorTimeout bounds the whole check, including starting an embedded database.
const doctorTimeout = 90 * time.Second

type doctorReport struct {
	env    *environment
	failed bool
	// badConfig: the configuration is invalid or a prerequisite (a writable instance
	// directory, PostgreSQL binaries) is missing: a usage error (exit 2).
	badConfig bool
}

func (r *doctorReport) add(f instance.Finding) {
	tag := "ok  "
	switch {
	case !f.OK:
		tag, r.failed = "FAIL", true
	case f.Warning:
		tag = "WARN"
	}
	fmt.Fprintf(r.env.stdout, "%s %s\n", tag, f.Message)
}

func newDoctorCmd(env *environment) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "check the configuration, the instance directory, the database, migrations, the runtime role and the master key",
		Long: "Check the configuration, the instance directory, the database, migrations, the runtime role and the master " +
			"key. Exit 1 when unhealthy, 2 when the configuration is invalid.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runDoctor(c.Context(), env)
		},
	}
}

func runDoctor(ctx context.Context, env *environment) error {
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	env.quietDatabase()
	r := &doctorReport{env: env}
	r.check(ctx)
	fmt.Fprintln(env.stdout)
	printSettings(env.stdout, env.settings)
	if r.badConfig {
		return errBadConfig
	}
	if r.failed {
		return errUnhealthy
	}
	return nil
}

var (
	errUnhealthy = errors.New("unhealthy: see the FAIL lines above")
	errBadConfig = usage.Error{Err: errors.New("invalid configuration or a missing prerequisite: see the FAIL line above")}
)

func (r *doctorReport) check(ctx context.Context) {
	cfg := r.env.cfg
	if err := cfg.Validate(); err != nil {
		r.add(instance.Finding{Message: "configuration: " + err.Error()})
		r.badConfig = true
		return
	}
	r.add(instance.Finding{OK: true, Message: "configuration is valid"})
	if f, ok := poolerExecMode(cfg.DatabaseURL, cfg.MigrationURL); ok {
		r.add(f)
	}
	dir, err := instance.Prepare(cfg.InstanceDir())
	if err != nil {
		r.add(instance.Finding{Message: err.Error()})
		r.badConfig = true
		return
	}
	r.add(instance.Finding{OK: true, Message: fmt.Sprintf("instance directory %s is writable", dir.Path)})
	for _, f := range dir.Check() {
		r.add(f)
	}
	if err := database.CheckBinaries(cfg); err != nil {
		r.add(instance.Finding{Message: err.Error()})
		r.badConfig = true
		return
	}
	mode := "DATABASE_URL"
	if cfg.Embedded() {
		mode = "embedded PostgreSQL in " + dir.DB()
	}
	db, err := database.Open(ctx, cfg, dir, r.env.log)
	if err != nil {
		r.add(instance.Finding{Message: fmt.Sprintf("database (%s) unreachable: %v", mode, err)})
		return
	}
	defer db.Close(context.WithoutCancel(ctx))
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		r.add(instance.Finding{Message: fmt.Sprintf("database (%s): %v", mode, err)})
		return
	}
	r.add(instance.Finding{OK: true, Message: fmt.Sprintf("database (%s) is reachable", mode)})
	detail, err := app.MigrationDetail(st, nil)
	if err != nil {
		r.add(instance.Finding{Message: "migrations: " + err.Error()})
		return
	}
	r.add(instance.Finding{OK: true, Message: "migrations: " + detail})
	r.runtimeRole(ctx, db)
	conn, err := pgx.Connect(ctx, db.MigrationURL)
	if err != nil {
		r.add(instance.Finding{Message: fmt.Sprintf("database (%s): %v", mode, err)})
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r.masterKey(ctx, conn, dir)
	r.aws(ctx)
	r.externalRefs(ctx, conn, db.MigrationURL)
	r.relay(ctx, conn)
	r.eventMACs(ctx, db)
}

// aws reports the health of the deployment's aws_secrets_manager instance, when it is
// the default provider: region, prefix, deployment, KMS key, where credentials come from.
func (r *doctorReport) aws(ctx context.Context) {
	cfg := r.env.cfg
	if cfg.SecretsProvider != providers.AWSSecretsManager {
		return
	}
	a := cfg.AWS
	p, err := awssm.New(ctx, awssm.Config{Region: a.Region, Endpoint: a.Endpoint, DeploymentID: a.DeploymentID, Prefix: a.Prefix,
		KMSKeyID: a.KMSKeyID, Environment: a.Environment, ProviderOwner: a.ProviderOwner, DeleteRecoveryDays: a.DeleteRecoveryDays,
		CacheTTL: a.CacheTTL,
		// doctor writes nothing: no value is ever fingerprinted here.
		Fingerprint: func(string, providers.Value) string { return "" }}, awssm.WithGetenv(r.env.getenv))
	if err != nil {
		r.add(instance.Finding{Message: "aws_secrets_manager: " + err.Error()})
		return
	}
	defer p.Close()
	h := p.Health(ctx)
	d := p.HealthDetails(ctx)
	r.add(instance.Finding{OK: h.OK, Warning: len(d.Warnings) > 0, Message: "aws_secrets_manager: " + strings.Join(h.All(), "; ")})
}

// runtimeRole warns when the role serve connects as could rewrite the log.
func (r *doctorReport) runtimeRole(ctx context.Context, db *database.Database) {
	rc, err := db.CheckRuntimeRole(ctx)
	if err != nil {
		r.add(instance.Finding{Message: fmt.Sprintf("runtime role: %v", err)})
		return
	}
	if len(rc.Problems) == 0 {
		r.add(instance.Finding{OK: true, Message: fmt.Sprintf("runtime role %s cannot alter ledger_events (INSERT and SELECT only)", rc.Role)})
		return
	}
	r.add(instance.Finding{OK: true, Warning: true, Message: fmt.Sprintf(
		"runtime role %s can alter ledger_events: it %s; the server's own credentials could rewrite history. "+
			"Fix: let a separate owner role run migrations (DATABASE_MIGRATION_URL) and give DATABASE_URL a role "+
			"that is not a superuser and owns nothing; the ledger grants it what it needs (see docs/database.md)",
		rc.Role, strings.Join(rc.Problems, ", "))})
}

// masterKey reports whether the configured master key is the one the database's data
// keys are wrapped with, without creating a key file or recording a key check.
func (r *doctorReport) masterKey(ctx context.Context, conn *pgx.Conn, dir instance.Dir) {
	key, _, err := localenc.ReadMasterKey(r.env.getenv, filepath.Join(dir.Path, "secrets"))
	if errors.Is(err, os.ErrNotExist) {
		// The default key file is missing: serve would create a new key, which is
		// right only for an instance that holds no secrets yet.
		var recorded string
		var keys bool
		err := conn.QueryRow(ctx, `SELECT coalesce((SELECT key_fingerprint FROM local_encrypted_key_check), ''),
			EXISTS (SELECT 1 FROM local_secret_keys WHERE wrapped_key IS NOT NULL)`).Scan(&recorded, &keys)
		switch {
		case err != nil:
			r.add(instance.Finding{Message: fmt.Sprintf("master key: %v", err)})
		case recorded != "" || keys:
			if recorded == "" {
				recorded = "(not recorded yet)"
			}
			r.add(instance.Finding{Message: fmt.Sprintf("master key: no key at %s, but the database's secrets were written with %s; restore the key file or set %s",
				filepath.Join(dir.Path, "secrets", localenc.KeyFileName), recorded, localenc.EnvMasterKey)})
		default:
			r.add(instance.Finding{OK: true, Message: fmt.Sprintf("master key: none yet; serve creates %s", filepath.Join(dir.Path, "secrets", localenc.KeyFileName))})
		}
		return
	}
	if err != nil {
		r.add(instance.Finding{Message: "master key: " + err.Error()})
		return
	}
	sealer, err := localenc.NewSealer(key)
	if err != nil {
		r.add(instance.Finding{Message: "master key: " + err.Error()})
		return
	}
	state, err := localenc.VerifyKey(ctx, conn, sealer)
	if err != nil {
		r.add(instance.Finding{Message: err.Error()})
		return
	}
	msg := fmt.Sprintf("master key %s from %s ", key.Fingerprint(), key.Source)
	switch state {
	case localenc.KeyRecorded:
		msg += "matches the database's key check"
	case localenc.KeyUnrecorded:
		msg += "opens the stored data keys (serve records its key check)"
	default:
		msg += "(no secrets yet; serve records its key check)"
	}
	r.add(instance.Finding{OK: true, Message: msg})
	r.reencryption(ctx, conn)
	warn, backupMsg := backup.KeyFinding(filepath.Join(dir.Path, "secrets"), key.Fingerprint())
	r.add(instance.Finding{OK: true, Warning: warn, Message: backupMsg})
}

// reencryption warns when a `secrets rekey --reencrypt` stopped midway: some secrets are
// still under the data keys the leaked master key may have opened.
func (r *doctorReport) reencryption(ctx context.Context, conn *pgx.Conn) {
	n, err := localenc.PendingReencryption(ctx, conn)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42703": // undefined_column
		// A schema before re-encryption: the migrations finding says it is behind.
	case err != nil:
		r.add(instance.Finding{OK: true, Warning: true, Message: "re-encryption: " + err.Error()})
	case n > 0:
		r.add(instance.Finding{OK: true, Warning: true, Message: fmt.Sprintf(
			"re-encryption unfinished: %d secrets are still under their old data keys; stop the server and run `secretsledger secrets rekey --reencrypt`", n)})
	}
}

// relay reports how far the NATS relay has published the log, and fails when the relay
// cursor or a projection's checkpoint is ahead of the log's head: rows were removed from
// the log after they were published or projected (or the log was restored from an older
// backup while the read models were not).
func (r *doctorReport) relay(ctx context.Context, conn *pgx.Conn) {
	var cursor, head int64
	var at *time.Time
	err := conn.QueryRow(ctx, `SELECT coalesce((SELECT position FROM relay_cursors WHERE name = 'nats'), 0),
		(SELECT updated_at FROM relay_cursors WHERE name = 'nats'), coalesce((SELECT max(position) FROM ledger_events), 0)`).
		Scan(&cursor, &at, &head)
	if err != nil {
		r.add(instance.Finding{Message: fmt.Sprintf("relay: %v", err)})
		return
	}
	if cursor > head {
		r.add(instance.Finding{Message: fmt.Sprintf("relay: the cursor (%d) is ahead of the log's head (%d): %d published event(s) are no longer in the log "+
			"(truncated, or restored from an older backup); run secretsledger verify", cursor, head, cursor-head)})
	} else {
		msg := fmt.Sprintf("relay: published %d of %d events (lag %d)", cursor, head, head-cursor)
		if at != nil {
			msg += fmt.Sprintf(", cursor moved %s ago", time.Since(*at).Round(time.Second))
		}
		r.add(instance.Finding{OK: true, Warning: head-cursor > 1000, Message: msg})
	}
	rows, err := conn.Query(ctx, `SELECT projection, position FROM projection_checkpoints WHERE position > $1 ORDER BY projection`, head)
	if err != nil {
		r.add(instance.Finding{Message: fmt.Sprintf("projections: %v", err)})
		return
	}
	type ahead struct {
		name     string
		position int64
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ahead])
	if err != nil {
		r.add(instance.Finding{Message: fmt.Sprintf("projections: %v", err)})
		return
	}
	for _, p := range list {
		r.add(instance.Finding{Message: fmt.Sprintf("projection %s: its checkpoint (%d) is ahead of the log's head (%d): the read model holds events the log no longer has; run secretsledger verify, then secretsledger replay",
			p.name, p.position, head)})
	}
	if len(list) == 0 {
		r.add(instance.Finding{OK: true, Message: "projections: no checkpoint ahead of the log's head"})
	}
}

// poolerExecModes are the pgx query exec modes that work through a transaction pooler:
// none of them keeps a named prepared statement on a server connection past one exchange.
var poolerExecModes = map[string]bool{"cache_describe": true, "exec": true, "simple_protocol": true}

// poolerExecMode warns when DATABASE_URL likely goes through a pooler and does not choose
// a query exec mode that works through one. A pooler is likely when the runtime and the
// migrations connect to different places (host or port): migrations must go direct,
// while the runtime may be pooled. A different user alone is the owner/runtime role
// split, not a pooler. pgx's default mode keeps named prepared statements on its
// connection, which a transaction pooler breaks ("prepared statement ... already
// exists"). It reports false when there is nothing to say. Neither URL is printed:
// they may hold passwords.
func poolerExecMode(databaseURL, migrationURL string) (instance.Finding, bool) {
	if databaseURL == "" || migrationURL == "" {
		return instance.Finding{}, false
	}
	runtime, err1 := url.Parse(databaseURL)
	migration, err2 := url.Parse(migrationURL)
	if err1 != nil || err2 != nil || hostPort(runtime) == hostPort(migration) {
		return instance.Finding{}, false
	}
	const fix = "add default_query_exec_mode=cache_describe to DATABASE_URL (docs/database.md, \"Through PgBouncer\")"
	switch mode := runtime.Query().Get("default_query_exec_mode"); {
	case mode == "":
		return instance.Finding{OK: true, Warning: true, Message: "DATABASE_URL and DATABASE_MIGRATION_URL connect to different places, " +
			"so DATABASE_URL likely goes through a pooler, and it sets no default_query_exec_mode: through a transaction pooler " +
			"pgx's default fails (\"prepared statement ... already exists\"); " + fix}, true
	case !poolerExecModes[mode]:
		return instance.Finding{OK: true, Warning: true, Message: fmt.Sprintf("DATABASE_URL likely goes through a pooler "+
			"(DATABASE_MIGRATION_URL connects elsewhere) with default_query_exec_mode=%s, which keeps or spreads a statement "+
			"across server connections and fails through a transaction pooler; %s", mode, fix)}, true
	}
	return instance.Finding{}, false
}

// hostPort is where u connects, with PostgreSQL's default port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
