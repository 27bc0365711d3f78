package boardtoken

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secretsledger/secretsledger/eventstore/integrity"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func testKey(t *testing.T) integrity.Key {
	t.Helper()
	k, err := integrity.FromSecret(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newStores returns the owner's store and the runtime role's, as serve wires them.
func newStores(t *testing.T) (owner, runtime Store) {
	t.Helper()
	pool, url := pgtest.NewMigratedPool(t)
	key := testKey(t)
	return Store{DB: pool, Key: key}, Store{DB: pgtest.NewPool(t, pgtest.RuntimeURL(t, url)), Key: key}
}

func unauthorized(err error) bool {
	return ledgererr.CodeOf(err) == ledgererr.Unauthorized
}

// The runtime role cannot add a token; the owner can add a row, but one without the
// key (a bare SHA-256, or any hash with keyed unset) matches no token.
func TestRowsWrittenWithoutTheKeyDoNotAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, runtime := newStores(t)
	_, err := runtime.DB.Exec(ctx, `INSERT INTO board_tokens (id, token_hash) VALUES ('tok_x', sha256('slb_x'))`)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("INSERT as the runtime role: %v, want permission denied", err)
	}
	if _, _, err := runtime.Create(ctx, nil, "by the runtime role"); err == nil {
		t.Fatal("the runtime role created a token")
	}
	for _, stmt := range []string{
		`INSERT INTO board_tokens (id, token_hash) VALUES ('tok_bare', sha256('slb_bare'))`,
		`INSERT INTO board_tokens (id, token_hash, keyed) VALUES ('tok_keyedflag', sha256('slb_keyedflag'), true)`,
	} {
		if _, err := owner.DB.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	for _, token := range []string{"slb_x", "slb_bare", "slb_keyedflag"} {
		if _, err := runtime.Authenticate(ctx, token); !unauthorized(err) {
			t.Fatalf("%s: %v, want unauthorized", token, err)
		}
	}
	id, token, err := owner.Create(ctx, []string{"co"}, "real")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := runtime.Authenticate(ctx, token); err != nil || a.ID != id {
		t.Fatalf("a token the owner created: %+v %v", a, err)
	}
	if _, err := (Store{DB: runtime.DB, Key: mustOtherKey(t)}).Authenticate(ctx, token); !unauthorized(err) {
		t.Fatalf("checked under another key: %v, want unauthorized", err)
	}
}

func mustOtherKey(t *testing.T) integrity.Key {
	t.Helper()
	k, err := integrity.FromSecret(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Tokens stored before hashes were keyed keep working once keyed; several processes
// starting at once key each exactly once.
func TestKeyStoredHashesOnceFromManyProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, runtime := newStores(t)
	ownerURL := owner.DB.(*pgxpool.Pool).Config().ConnString()
	for _, tok := range []string{"slb_old1", "slb_old2", "slb_old3"} {
		if _, err := owner.DB.Exec(ctx, `INSERT INTO board_tokens (id, token_hash) VALUES ($1, sha256(convert_to($2, 'UTF8')))`,
			"tok_"+tok, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runtime.Authenticate(ctx, "slb_old1"); !unauthorized(err) {
		t.Fatalf("before keying: %v, want unauthorized", err)
	}
	var wg sync.WaitGroup
	keyed := make([]int, 6)
	errs := make([]error, len(keyed))
	for i := range keyed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool := pgtest.NewPool(t, ownerURL) // a process of its own
			keyed[i], errs[i] = Store{DB: pool, Key: owner.Key}.KeyStoredHashes(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range keyed {
		if errs[i] != nil {
			t.Fatal(errors.Join(errs...))
		}
		total += keyed[i]
	}
	if total != 3 {
		t.Fatalf("keyed %v rows in all, want 3 (each once)", keyed)
	}
	for _, tok := range []string{"slb_old1", "slb_old2", "slb_old3"} {
		if a, err := runtime.Authenticate(ctx, tok); err != nil || a.ID != "tok_"+tok {
			t.Fatalf("%s after keying: %+v %v", tok, a, err)
		}
	}
	if n, err := owner.KeyStoredHashes(ctx); err != nil || n != 0 {
		t.Fatalf("again: %d %v, want nothing to key", n, err)
	}
}
