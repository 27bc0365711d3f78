package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"

	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/natsbus"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: subscriber CREDENTIALS.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var creds natsbus.SubscriberCredentials
	if err := json.Unmarshal(raw, &creds); err != nil {
		fmt.Fprintln(os.Stderr, "credentials:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err = natsbus.Follow(ctx, creds, func(e natsbus.Envelope) error {
		fmt.Printf("%d %s %s\n", e.Position, e.Type, e.StreamID)
		payload, err := e.Decode()
		if err != nil {
			return err // redelivered later
		}
		if v, ok := payload.(*events.SecretVersionAddedV1); ok {
			fmt.Printf("  secret %s is now at version %d: re-resolve\n", v.SecretID, v.Version)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
