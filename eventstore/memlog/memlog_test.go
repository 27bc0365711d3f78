package memlog_test

import (
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/memlog"
	"github.com/secretsledger/secretsledger/eventstore/storetest"
)

func TestMemlogKeepsTheLogContract(t *testing.T) {
	storetest.Run(t, storetest.Implementation{New: func(*testing.T) storetest.Log { return memlog.New() }})
}
