// Package pgembed runs the machine's PostgreSQL server binaries as a private database
// for one ledger instance: the zero-config mode used when DATABASE_URL is unset.
//
// The instance's db/ directory holds the cluster (pgdata/), its generated superuser
// password (0600), the password of RuntimeUser (0600; the unprivileged login role the
// server connects as, created or repaired at every start), the last port and the server
// log. The server listens on 127.0.0.1
// only, with scram-sha-256 password authentication and no unix socket. A flock on
// db/instance.lock makes one ledger process the owner of the cluster; other processes
// on the same instance (a second serve, migrate, doctor) attach to it instead of
// starting their own.
//
// Recovery: a cluster whose owner died (kill -9) is found through its postmaster.pid;
// an orphaned postmaster is shut down and a stale pid file removed before the next
// start. As root, PostgreSQL (which refuses to run as root) runs as an unprivileged
// system user that owns pgdata.
//
// It uses pgx (to probe readiness) and the standard library only.
//
// Imports: nothing of ours.
//
// Third-party: pgx.
package pgembed
