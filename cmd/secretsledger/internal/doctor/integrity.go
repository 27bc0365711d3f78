package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/database"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/instance"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/integritykey"
	"github.com/secretsledger/secretsledger/eventstore"
)

// eventMACs checks, as the checkpoint signer does before signing, the MACs of the events
// since the newest checkpoint, and fails at the first one the ledger's writer did not
// authenticate: a row inserted by a database writer, which the signer will not sign past.
func (r *checker) eventMACs(ctx context.Context, db *database.Database) {
	key, err := integritykey.Load(r.in.Config, r.in.Log, false)
	if errors.Is(err, os.ErrNotExist) {
		r.report(instance.Finding{OK: true, Warning: true, Message: "event MACs: no integrity key yet (" + r.in.Config.IntegrityKeyFile() + "); serve creates it on first start"})
		return
	}
	if err != nil {
		r.report(instance.Finding{Message: "event MACs: " + err.Error()})
		return
	}
	pool, err := pgxpool.New(ctx, db.MigrationURL)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("event MACs: %v", err)})
		return
	}
	defer pool.Close()
	store := eventstore.New(pool, eventstore.Config{Authenticator: key})
	from, err := store.LatestCheckpoint(ctx)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("event MACs: %v", err)})
		return
	}
	head, err := store.HeadPosition(ctx)
	if err != nil {
		r.report(instance.Finding{Message: fmt.Sprintf("event MACs: %v", err)})
		return
	}
	auth, err := store.Authenticated(ctx, from, head)
	switch {
	case err != nil:
		r.report(instance.Finding{Message: fmt.Sprintf("event MACs: %v", err)})
	case auth.ForgedAt != 0:
		r.report(instance.Finding{Message: fmt.Sprintf("event MACs: forged: the event at position %d has no valid MAC (the ledger did not write it); "+
			"checkpoints stop before it; run secretsledger verify", auth.ForgedAt)})
	default:
		r.report(instance.Finding{OK: true, Message: fmt.Sprintf("event MACs: the %d event(s) after the newest checkpoint (%d) are authenticated", head-from, from)})
	}
}
