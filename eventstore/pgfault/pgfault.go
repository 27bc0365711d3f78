package pgfault

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err is a fault of the database's availability: the
// connection failed or was lost (no PostgreSQL error at all, or class 08), the server
// is shutting down, crashed or is still starting (57P01, 57P02, 57P03), it is a standby
// where a read-write session was wanted (25006), or it has no connection slot left
// (53300). A cancelled or expired context is not: the caller gave up, the database did
// not fail.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	switch pgErr.Code {
	case "57P01", // admin_shutdown: a fast shutdown, as in a switchover
		"57P02", // crash_shutdown: another backend crashed
		"57P03", // cannot_connect_now: starting up or in recovery
		"25006", // read_only_sql_transaction: a standby, after a failover
		"53300": // too_many_connections
		return true
	}
	return strings.HasPrefix(pgErr.Code, "08") // connection_exception
}
