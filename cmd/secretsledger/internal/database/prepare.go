package database

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// Prepare validates the configuration, prepares the instance directory and checks that
// the embedded mode has PostgreSQL binaries: what every command that opens the
// database does first.
func Prepare(cfg config.Config) (instance.Dir, error) {
	if err := cfg.Validate(); err != nil {
		return instance.Dir{}, usage.InvalidConfig(err)
	}
	dir, err := instance.Prepare(cfg.InstanceDir())
	if err != nil {
		return dir, err
	}
	return dir, CheckBinaries(cfg)
}

// EnsureMigrated migrates an empty database, and a database with pending migrations
// only when asked (migrate): a running fleet's schema changes when an operator says so.
// Either way the runtime role ends up with exactly its privileges.
func (d *Database) EnsureMigrated(ctx context.Context, log *slog.Logger, migrate bool) error {
	st, err := d.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if st.Current() {
		// Every start: an instance made before the roles were split gets its grants.
		return d.GrantRuntime(ctx)
	}
	if !st.Empty() && !migrate {
		names := make([]string, len(st.Pending))
		for i, m := range st.Pending {
			names[i] = m.Name
		}
		return fmt.Errorf("the database has %d pending migration(s) (%s); run `secretsledger migrate` or start with `secretsledger serve --migrate`",
			len(st.Pending), strings.Join(names, ", "))
	}
	applied, err := d.Migrate(ctx)
	for _, m := range applied {
		log.Info("applied migration", "name", m.Name)
	}
	return err
}
