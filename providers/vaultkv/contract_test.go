package vaultkv_test

import (
	"testing"

	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/providertest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	providertest.Run(t, func(t *testing.T) providers.Provider { return newEnv(t, nil).p })
}
