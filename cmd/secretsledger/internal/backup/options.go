package backup

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/progress"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// Options are what every backup operation reads.
type Options struct {
	Config config.Config
	Log    *slog.Logger
	// Getenv reads a setting (the master key's variables): the environment, else the
	// instance's config.json.
	Getenv func(string) string
	// Progress is the terminal progress lines go to; nil draws none.
	Progress io.Writer
}

func (o Options) progress(label string) *progress.Line { return progress.Start(o.Progress, label, 0) }

// Dir is where backups are written and listed: LEDGER_BACKUP_DIR, else the instance's
// backups/ directory.
func Dir(cfg config.Config) string {
	if cfg.BackupDir != "" {
		return cfg.BackupDir
	}
	return filepath.Join(cfg.InstanceDir(), "backups")
}

// parseRecipients parses the --encrypt-to age recipients.
func parseRecipients(texts []string) ([]age.Recipient, error) {
	var recipients []age.Recipient
	for _, r := range texts {
		rs, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil {
			return nil, usage.Errorf("--encrypt-to %q: %w", r, err)
		}
		recipients = append(recipients, rs...)
	}
	return recipients, nil
}

// Short is the first 16 characters of a hash, as printed.
func Short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}
