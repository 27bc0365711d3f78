package natsbus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

// Revocations pushed at once by two ledger processes sharing a database all end up in
// the account JWT: the account JWT update is read, change, write, and without taking
// turns the later push drops the earlier one's revocation.
func TestConcurrentRevocationsAllReachTheAccountJWT(t *testing.T) {
	t.Parallel()
	ns := startNATS(t, "127.0.0.1:0")
	pool, _ := pgtest.NewMigratedPool(t)
	var processes [2]*Authority
	for i := range processes {
		a, err := LoadAuthority(ns.Auth().Config(), DefaultCredsTTL)
		if err != nil {
			t.Fatal(err)
		}
		processes[i] = a
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- processes[i%2].Revoke(context.Background(), ns.Endpoint(), pool, fmt.Sprintf("sub-%d", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	a := processes[0]
	sys, err := Endpoint{URL: ns.Endpoint().URL, CredsFile: a.sysCreds}.Connect("test lookup")
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	ac, err := a.lookupAccount(context.Background(), sys)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		user, err := a.UserKey(fmt.Sprintf("sub-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if !ac.Revocations.IsRevoked(user, time.Now().Add(-time.Minute)) {
			t.Fatalf("the revocation of sub-%d is not in the account JWT (%d of %d are)", i, len(ac.Revocations), n)
		}
	}
}
