package app_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/config"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/integritykey"
	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/pgtest"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/localenc"
)

// operatorOptions are an operator command's options over a fresh database
// (DATABASE_URL) and a fresh instance directory.
func operatorOptions(t *testing.T) app.Options {
	t.Helper()
	vars := map[string]string{"LEDGER_HOME": t.TempDir(), "DATABASE_URL": pgtest.NewDatabase(t), localenc.EnvMasterKey: strings.Repeat("ab", 32)}
	getenv := func(k string) string { return vars[k] }
	return app.Options{Config: config.FromEnv(getenv), Log: slog.New(slog.DiscardHandler), Getenv: getenv, Owner: true}
}

// An operator command on an instance without an integrity key opens the ledger (it can
// verify without MACs) but cannot append; it never creates the key.
func TestOperatorWithoutIntegrityKeyDoesNotAppend(t *testing.T) {
	t.Parallel()
	o := operatorOptions(t)
	a, err := app.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.NoIntegrityKey == nil {
		t.Fatal("no integrity key file, yet NoIntegrityKey is unset")
	}
	if stop, err := a.RunWriter(context.Background()); err == nil {
		stop()
		t.Fatal("RunWriter without the integrity key")
	}
	if _, err := integritykey.Load(o.Config, o.Log, false); err == nil {
		t.Fatal("an operator command created the integrity key")
	}
}

// With the integrity key, an operator command's handlers append through the writer: a
// secret is created, rotated, deleted and restored, and the read model has it.
func TestOperatorCommandsAppend(t *testing.T) {
	t.Parallel()
	o := operatorOptions(t)
	if _, err := integritykey.Load(o.Config, o.Log, true); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stop, err := a.RunWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	board := commands.Request{Actor: actor.Actor{Type: actor.Board, ID: "test"}}
	v := providers.NewValue([]byte("v1"))
	created, err := a.Commands.Secrets.Create(ctx, board, commands.CreateSecret{CompanyID: "co", Name: "api key", Value: &v})
	if err != nil {
		t.Fatal(err)
	}
	v2 := providers.NewValue([]byte("v2"))
	if _, err := a.Commands.Secrets.Rotate(ctx, board, commands.RotateSecret{SecretID: created.SecretID, Value: &v2}); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if _, err := a.Commands.Secrets.Delete(ctx, board, created.SecretID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := a.Commands.Secrets.Restore(ctx, board, created.SecretID); err != nil {
		t.Fatalf("restore: %v", err)
	}
	var versions int
	if err := a.Pool.QueryRow(ctx, `SELECT latest_version FROM company_secrets WHERE id = $1`, created.SecretID).Scan(&versions); err != nil || versions != 2 {
		t.Fatalf("read model: latest version %d, %v", versions, err)
	}
}

// serve connects as the runtime role: an app opened to serve as the owner is refused.
func TestServeIsNeverTheOwner(t *testing.T) {
	t.Parallel()
	o := operatorOptions(t)
	o.Serve = true
	if a, err := app.Open(context.Background(), o); err == nil {
		a.Close()
		t.Fatal("opened to serve as the owner")
	}
}
