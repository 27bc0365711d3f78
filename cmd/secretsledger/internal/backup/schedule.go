package backup

import (
	"context"
	"errors"
	"os"
	"time"
)

// RunScheduled takes a verified backup of the database at url every
// LEDGER_BACKUP_INTERVAL until ctx ends and prunes the instance's backups older than
// the retention, except the newest verified one. It runs in the process holding the
// backups lease.
func RunScheduled(ctx context.Context, o Options, url string) {
	tick := time.NewTicker(o.Config.BackupInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		path, m, err := Dump(ctx, o, url, "")
		if err != nil {
			if ctx.Err() == nil {
				o.Log.Error("scheduled backup", "err", err)
			}
			continue
		}
		c, err := Verify(ctx, o, path, "")
		switch {
		case err != nil:
			o.Log.Error("verifying the scheduled backup", "file", path, "err", err)
		case !c.OK:
			o.Log.Error("the scheduled backup FAILED verification", "file", path, "problem", c.Problem)
		default:
			o.Log.Info("scheduled backup", "file", path, "position", m.HeadPosition, "verified", true)
		}
		Prune(o, time.Now())
	}
}

// Prune removes the instance's backups created before now minus the retention. The
// newest verified backup is kept whatever its age: it is the one known to restore.
func Prune(o Options, now time.Time) {
	list, err := List(Dir(o.Config))
	if err != nil {
		o.Log.Warn("listing backups to prune", "err", err)
		return
	}
	keep := ""
	for _, e := range list { // oldest first
		if e.Check != nil && e.Check.OK {
			keep = e.Path
		}
	}
	for _, e := range list {
		if e.Path == keep || e.Manifest.Instance != o.Config.Instance || !e.Manifest.CreatedAt.Before(now.Add(-o.Config.BackupRetain)) {
			continue
		}
		for _, f := range []string{e.Path, e.Path + ManifestSuffix, e.Path + VerifiedSuffix} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				o.Log.Warn("pruning a backup", "file", f, "err", err)
			}
		}
		o.Log.Info("pruned backup", "file", e.Path)
	}
}
