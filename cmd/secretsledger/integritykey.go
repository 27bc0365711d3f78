package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/secretsledger/secretsledger/eventstore/integrity"
)

// loadIntegrityKey reads the instance's integrity key; serve creates it on first start
// (create), operator commands only read it. A key that cannot be used is a
// configuration error.
func loadIntegrityKey(env *environment, create bool) (integrity.Key, error) {
	path := env.cfg.IntegrityKeyFile()
	if !create {
		key, err := integrity.Load(path)
		if err != nil {
			return integrity.Key{}, usageError{fmt.Errorf("%w (LEDGER_INTEGRITY_KEY_FILE; serve creates it on first start)", err)}
		}
		return key, nil
	}
	key, created, err := integrity.LoadOrCreate(path)
	if err != nil {
		return integrity.Key{}, usageError{fmt.Errorf("%w (LEDGER_INTEGRITY_KEY_FILE)", err)}
	}
	if created {
		env.log.Info("created the integrity key; every process of the instance needs a copy, kept apart from the database", "path", path, "fingerprint", key.Fingerprint())
	}
	return key, nil
}

// storeIntegrityKey is the key the event store MACs and checks events with and board
// tokens are hashed with. serve creates it on first start. With optional (an operator
// command) a missing file is no error: missing then says why there is no key (the error
// loadIntegrityKey gives) and key is the zero Key, which must not be used.
func storeIntegrityKey(env *environment, optional bool) (key integrity.Key, missing, err error) {
	key, err = loadIntegrityKey(env, !optional)
	switch {
	case err == nil:
		return key, nil, nil
	case optional && errors.Is(err, os.ErrNotExist):
		return integrity.Key{}, err, nil
	}
	return integrity.Key{}, nil, err
}
