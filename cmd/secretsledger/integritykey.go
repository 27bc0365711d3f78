package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/secretsledger/secretsledger/eventstore"
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

// storeIntegrityKey is the key the event store MACs and checks events with. serve
// creates it on first start. An operator command (owner) runs without it when the file
// does not exist: it then verifies the chain without MACs and appends nothing, and
// missing says why (the error loadIntegrityKey gives).
func storeIntegrityKey(env *environment, owner bool) (auth eventstore.Authenticator, missing, err error) {
	key, err := loadIntegrityKey(env, !owner)
	switch {
	case err == nil:
		return key, nil, nil
	case owner && errors.Is(err, os.ErrNotExist):
		return nil, err, nil
	}
	return nil, nil, err
}
