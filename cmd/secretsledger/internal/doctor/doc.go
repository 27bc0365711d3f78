// Package doctor is the checks of `secretsledger doctor`: the configuration, the
// instance directory and its permissions, the database and its migrations, the runtime
// role's rights on the log, the master key against the database's key check and its
// backup, an unfinished re-encryption, the NATS relay's cursor and the projections'
// checkpoints against the log's head, the MACs of the events since the newest
// checkpoint, the guardrail of external references, the aws_secrets_manager
// provider's health, the Vault session's health, and the query exec mode through a
// pooler. It hands back findings; the CLI verb prints them and sets the exit status. It
// creates no key file, records no key check and writes nothing to AWS or Vault; no
// finding names a URL: they may hold passwords.
//
// Imports: cmd/secretsledger/internal/app, cmd/secretsledger/internal/backup,
// cmd/secretsledger/internal/config, cmd/secretsledger/internal/database,
// cmd/secretsledger/internal/instance, cmd/secretsledger/internal/integritykey,
// cmd/secretsledger/internal/placement, commands, eventstore, providers,
// providers/awssm, providers/localenc, providers/vaultkv, queries.
//
// Third-party: pgx.
package doctor
