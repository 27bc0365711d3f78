package backup

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
)

// Prune removes the instance's backups older than the retention, except the newest
// verified one, and leaves other instances' backups alone.
func TestPruneKeepsTheNewestVerifiedBackup(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	backup := func(name, instance string, age time.Duration, verified *bool) string {
		t.Helper()
		path := filepath.Join(dir, name+".dump")
		if err := os.WriteFile(path, []byte("dump"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(path+ManifestSuffix, Manifest{Instance: instance, CreatedAt: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
		if verified != nil {
			if err := writeJSON(path+VerifiedSuffix, Check{OK: *verified}); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	yes, no := true, false
	oldest := backup("a-oldest", "a", 5*time.Hour, &yes)
	verified := backup("a-verified", "a", 4*time.Hour, &yes)
	failed := backup("a-failed", "a", 3*time.Hour, &no)
	unverified := backup("a-unverified", "a", 2*time.Hour, nil)
	recent := backup("a-recent", "a", 30*time.Minute, nil)
	other := backup("b-old", "b", 5*time.Hour, nil)

	o := Options{Config: config.Config{Instance: "a", BackupDir: dir, BackupRetain: time.Hour}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	Prune(o, now)

	list, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range list {
		kept = append(kept, e.Path)
	}
	if want := []string{other, verified, recent}; !slices.Equal(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}
	for _, gone := range []string{oldest, failed, unverified} {
		for _, f := range []string{gone, gone + ManifestSuffix, gone + VerifiedSuffix} {
			if _, err := os.Stat(f); !os.IsNotExist(err) {
				t.Errorf("%s not pruned: %v", f, err)
			}
		}
	}
}
