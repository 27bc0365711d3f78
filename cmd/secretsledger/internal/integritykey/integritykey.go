package integritykey

import (
	"errors"
	"log/slog"
	"os"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
)

// Load reads the instance's integrity key; serve creates it on first start (create,
// logging the creation on log), operator commands only read it. A key that cannot be
// used is a usage error.
func Load(cfg config.Config, log *slog.Logger, create bool) (integrity.Key, error) {
	path := cfg.IntegrityKeyFile()
	if !create {
		key, err := integrity.Load(path)
		if err != nil {
			return integrity.Key{}, usage.Errorf("%w (LEDGER_INTEGRITY_KEY_FILE; serve creates it on first start)", err)
		}
		return key, nil
	}
	key, created, err := integrity.LoadOrCreate(path)
	if err != nil {
		return integrity.Key{}, usage.Errorf("%w (LEDGER_INTEGRITY_KEY_FILE)", err)
	}
	if created {
		log.Info("created the integrity key; every process of the instance needs a copy, kept apart from the database", "path", path, "fingerprint", key.Fingerprint())
	}
	return key, nil
}

// ForStore is the key the event store MACs and checks events with. serve creates it on
// first start. With optional (an operator command) a missing file is no error: missing
// then says why there is no key (the error Load gives) and key is the zero Key, which
// must not be used.
func ForStore(cfg config.Config, log *slog.Logger, optional bool) (key integrity.Key, missing, err error) {
	key, err = Load(cfg, log, !optional)
	switch {
	case err == nil:
		return key, nil, nil
	case optional && errors.Is(err, os.ErrNotExist):
		return integrity.Key{}, err, nil
	}
	return integrity.Key{}, nil, err
}
