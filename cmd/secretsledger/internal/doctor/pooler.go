package doctor

import (
	"fmt"
	"net"
	"net/url"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
)

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
