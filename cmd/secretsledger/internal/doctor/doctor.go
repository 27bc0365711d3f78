package doctor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
)

// timeout bounds the whole check, including starting an embedded database.
const timeout = 90 * time.Second

// Inputs are what the checks read: the configuration, where a setting comes from, and
// the log of an embedded database's start and stop.
type Inputs struct {
	Config config.Config
	// Getenv reads a setting: the environment, else the instance's config.json.
	Getenv func(string) string
	Log    *slog.Logger
}

// Run runs every check, handing each finding to report as it is made (a check may take
// seconds: an embedded database starts, AWS answers), and says whether the configuration
// is invalid or a prerequisite (a writable instance directory, PostgreSQL binaries) is
// missing, which stops the checks.
func Run(ctx context.Context, in Inputs, report func(instance.Finding)) (badConfig bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := &checker{in: in, report: report}
	r.check(ctx)
	return r.badConfig
}

// checker is one run of the checks.
type checker struct {
	in     Inputs
	report func(instance.Finding)
	// badConfig: the configuration is invalid or a prerequisite is missing.
	badConfig bool
}

// check runs the checks in order; it stops at the first that the rest depend on.
func (r *checker) check(ctx context.Context) {
	cfg := r.in.Config
	if err := cfg.Validate(); err != nil {
		r.report(instance.Finding{Message: "configuration: " + err.Error()})
		r.badConfig = true
		return
	}
	r.report(instance.Finding{OK: true, Message: "configuration is valid"})
	if f, ok := poolerExecMode(cfg.DatabaseURL, cfg.MigrationURL); ok {
		r.report(f)
	}
	dir, err := instance.Prepare(cfg.InstanceDir())
	if err != nil {
		r.report(instance.Finding{Message: err.Error()})
		r.badConfig = true
		return
	}
	r.report(instance.Finding{OK: true, Message: fmt.Sprintf("instance directory %s is writable", dir.Path)})
	for _, f := range dir.Check() {
		r.report(f)
	}
	if err := database.CheckBinaries(cfg); err != nil {
		r.report(instance.Finding{Message: err.Error()})
		r.badConfig = true
		return
	}
	mode := "DATABASE_URL"
	if cfg.Embedded() {
		mode = "embedded PostgreSQL in " + dir.DB()
	}
	db, err := database.Open(ctx, cfg, dir, r.in.Log)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("database (%s) unreachable: %v", mode, err)})
		return
	}
	defer db.Close(context.WithoutCancel(ctx))
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("database (%s): %v", mode, err)})
		return
	}
	r.report(instance.Finding{OK: true, Message: fmt.Sprintf("database (%s) is reachable", mode)})
	detail, err := app.MigrationDetail(st, nil)
	if err != nil {
		r.report(instance.Finding{Message: "migrations: " + err.Error()})
		return
	}
	r.report(instance.Finding{OK: true, Message: "migrations: " + detail})
	r.runtimeRole(ctx, db)
	conn, err := pgx.Connect(ctx, db.MigrationURL)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("database (%s): %v", mode, err)})
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r.masterKey(ctx, conn, dir)
	r.aws(ctx)
	r.vault(ctx)
	r.externalRefs(ctx, conn, db.MigrationURL)
	r.relay(ctx, conn)
	r.eventMACs(ctx, db)
}

// aws reports the health of the deployment's aws_secrets_manager instance, when it is
// the default provider: region, prefix, deployment, KMS key, where credentials come from.
func (r *checker) aws(ctx context.Context) {
	cfg := r.in.Config
	if cfg.SecretsProvider != providers.AWSSecretsManager {
		return
	}
	a := cfg.AWS
	p, err := awssm.New(ctx, awssm.Config{Region: a.Region, Endpoint: a.Endpoint, DeploymentID: a.DeploymentID, Prefix: a.Prefix,
		KMSKeyID: a.KMSKeyID, Environment: a.Environment, ProviderOwner: a.ProviderOwner, DeleteRecoveryDays: a.DeleteRecoveryDays,
		CacheTTL: a.CacheTTL,
		// doctor writes nothing: no value is ever fingerprinted here.
		Fingerprint: func(string, providers.Value) string { return "" }}, awssm.WithGetenv(r.in.Getenv))
	if err != nil {
		r.report(instance.Finding{Message: "aws_secrets_manager: " + err.Error()})
		return
	}
	defer p.Close()
	h := p.Health(ctx)
	d := p.HealthDetails(ctx)
	r.report(instance.Finding{OK: h.OK, Warning: len(d.Warnings) > 0, Message: "aws_secrets_manager: " + strings.Join(h.All(), "; ")})
}

// runtimeRole warns when the role serve connects as could rewrite the log.
func (r *checker) runtimeRole(ctx context.Context, db *database.Database) {
	rc, err := db.CheckRuntimeRole(ctx)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("runtime role: %v", err)})
		return
	}
	if len(rc.Problems) == 0 {
		r.report(instance.Finding{OK: true, Message: fmt.Sprintf("runtime role %s cannot alter ledger_events (INSERT and SELECT only)", rc.Role)})
		return
	}
	r.report(instance.Finding{OK: true, Warning: true, Message: fmt.Sprintf(
		"runtime role %s can alter ledger_events: it %s; the server's own credentials could rewrite history. "+
			"Fix: let a separate owner role run migrations (DATABASE_MIGRATION_URL) and give DATABASE_URL a role "+
			"that is not a superuser and owns nothing; the ledger grants it what it needs (see docs/database.md)",
		rc.Role, strings.Join(rc.Problems, ", "))})
}
