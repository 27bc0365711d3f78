package localenc

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// FromEnv says whether the key came from PAPERCLIP_SECRETS_MASTER_KEY rather than a
// file: a rekey then cannot put the new key in its place; the operator sets the variable.
func (k MasterKey) FromEnv() bool { return strings.HasPrefix(k.Source, "env ") }

// ReplaceKeyFile puts the key file of next at path, once Rekey has rewrapped every data
// key under next: the file at path is kept as path.<now>.old, then next's file is copied
// over (byte for byte, as the operator wrote it). It returns the name the old key was
// kept under. Its errors say what is left to do by hand: the data keys already need the
// new key.
func ReplaceKeyFile(path string, next MasterKey, now time.Time) (kept string, err error) {
	kept = fmt.Sprintf("%s.%s.old", path, now.UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, kept); err != nil {
		return "", fmt.Errorf("the data keys are rewrapped; move the new key into place by hand (%s): %w", next.Source, err)
	}
	b, err := os.ReadFile(next.Source)
	if err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		return kept, fmt.Errorf("the data keys are rewrapped under the key in %s; put it at %s by hand: %w", next.Source, path, err)
	}
	return kept, nil
}
