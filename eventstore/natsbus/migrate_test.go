package natsbus

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// An instance of the password mode (bcrypt users, a ledger.password file, JetStream data
// in the global account) moves to operator mode at start: the LEDGER stream and its
// messages are in the ledger's account, the password file is gone, and a user/password
// login is refused.
func TestEmbeddedMovesPasswordModeToOperatorMode(t *testing.T) {
	startsNATS(t)
	t.Parallel()
	dir := t.TempDir()
	// The earlier mode, as it left the directory.
	old, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: filepath.Join(dir, "jetstream"), NoSigs: true, NoLog: true,
		Users: []*server.User{{Username: "ledger", Password: "old-password"}}})
	if err != nil {
		t.Fatal(err)
	}
	go old.Start()
	if !old.ReadyForConnections(10 * time.Second) {
		t.Fatal("the password-mode server did not start")
	}
	nc, err := nats.Connect(old.ClientURL(), nats.UserInfo("ledger", "old-password"))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if err := ensureStream(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.Publish(ctx, "ledger.co-a.secret.created", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	nc.Close()
	old.Shutdown()
	old.WaitForShutdown()
	if err := os.WriteFile(filepath.Join(dir, "ledger.password"), []byte("old-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ns, err := StartEmbedded(EmbeddedOptions{Addr: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	if _, err := os.Stat(filepath.Join(dir, "ledger.password")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the password file is still there: %v", err)
	}
	for _, name := range []string{operatorSeedFile, operatorSigningFile, accountSigningFile, ledgerCredsFile, systemCredsFile} {
		fi, err := os.Stat(filepath.Join(dir, authDirName, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, fi, err)
		}
	}
	admin := (&testBus{ledger: ns.Endpoint(), servers: []*server.Server{ns.srv}}).admin(t)
	if got := admin.streamMsgs(t); got != 3 {
		t.Fatalf("the moved stream holds %d messages, want 3", got)
	}
	if c, err := nats.Connect(ns.ClientURL(), nats.UserInfo("ledger", "old-password")); err == nil {
		c.Close()
		t.Fatal("the old password still logs in")
	}
	// A second start keeps the setup (same account) and the data.
	account := ns.Auth().Account
	ns.Shutdown()
	ns2, err := StartEmbedded(EmbeddedOptions{Addr: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ns2.Shutdown()
	if ns2.Auth().Account != account {
		t.Fatalf("account changed from %s to %s", account, ns2.Auth().Account)
	}
	admin2 := (&testBus{ledger: ns2.Endpoint(), servers: []*server.Server{ns2.srv}}).admin(t)
	if got := admin2.streamMsgs(t); got != 3 {
		t.Fatalf("after a restart the stream holds %d messages", got)
	}
}

// A revocation pushed into the account JWT survives a restart of the embedded server:
// the resolver keeps the newer JWT instead of the instance's first one.
func TestRevocationSurvivesRestart(t *testing.T) {
	startsNATS(t)
	t.Parallel()
	dir := t.TempDir()
	ns, err := StartEmbedded(EmbeddedOptions{Addr: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, err := LoadAuthority(ns.Auth().Config(), DefaultCredsTTL)
	if err != nil {
		t.Fatal(err)
	}
	s := subscriber("restart1", "co-a")
	is, err := a.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(context.Background(), ns.Endpoint(), nil, s.ID); err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns, err = StartEmbedded(EmbeddedOptions{Addr: "127.0.0.1:0", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	creds := SubscriberCredentials{URL: ns.ClientURL(), Creds: is.Creds}
	auth, err := creds.natsAuth()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := nats.Connect(ns.ClientURL(), auth, nats.NoReconnect()); err == nil {
		c.Close()
		t.Fatal("a revoked subscriber connects after a restart")
	}
	// A subscriber issued after the restart still connects.
	fresh := issueWith(t, &testBus{clientURL: ns.ClientURL()}, a, subscriber("restart2", "co-a"))
	c := connectSubscriber(t, fresh)
	if !c.nc.IsConnected() {
		t.Fatal("a fresh subscriber is not connected")
	}
}
