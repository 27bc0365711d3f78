package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/secretsledger/secretsledger/agent"
	"github.com/secretsledger/secretsledger/providers/redact"
)

func main() {
	base, key := os.Getenv("LEDGER_URL"), strings.TrimSpace(os.Getenv("LEDGER_AGENT_KEY"))
	if base == "" || key == "" {
		fmt.Fprintln(os.Stderr, "usage: LEDGER_URL=… LEDGER_AGENT_KEY=… agent")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := agent.New(base, key, nil)
	// The head first, then the resolution: a change between the two is not missed.
	head, err := c.Head(ctx)
	if err != nil {
		fail(err)
	}
	held, err := resolve(ctx, c) // what a runtime would give its agent
	if err != nil {
		fail(err)
	}
	err = c.Follow(ctx, head, agent.FollowOptions{OnRetry: func(err error) {
		fmt.Fprintln(os.Stderr, "the change feed failed, asking again:", err)
	}}, func(ch agent.Changes) error {
		fmt.Printf("%d change(s) up to position %d: resolving again\n", len(ch.Changes), ch.Position)
		for {
			next, err := resolve(ctx, c)
			if err == nil {
				held = next
				return nil
			}
			if agent.Refused(err) {
				return err
			}
			// The server is away: keep the values held and try again; the feed waits.
			fmt.Fprintln(os.Stderr, "resolving again failed, keeping the values held:", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	})
	var apiErr *agent.Error
	switch {
	case errors.Is(err, context.Canceled):
	case errors.As(err, &apiErr) && apiErr.Refused():
		fmt.Fprintf(os.Stderr, "the key was refused (HTTP %d, %s): dropping the %d values held and stopping\n",
			apiErr.Status, apiErr.Code, len(held.Values))
		os.Exit(77)
	default:
		fail(err)
	}
}

// resolve resolves the consumer's env, prints its manifest and writes one line of the
// runtime's own output that holds a value through a redactor of the values.
func resolve(ctx context.Context, c *agent.Client) (agent.Resolution, error) {
	res, err := c.Resolve(ctx, agent.ResolveRequest{RunID: "example"})
	if err != nil {
		return res, err
	}
	for _, e := range res.Manifest {
		fmt.Printf("  %-24s %-16s %-24s v%-3d %s\n", e.ConfigPath, e.EnvKey, e.SecretKey, e.Version, e.Outcome)
	}
	r := agent.Redactor(res, redact.Options{})
	if len(r.Skipped()) > 0 {
		fmt.Printf("  not masked (shorter than %d bytes): %s\n", redact.MinLength, strings.Join(r.Skipped(), ", "))
	}
	out := r.Writer(os.Stdout)
	for _, s := range agent.Secrets(res) {
		if len(s.Value) >= redact.MinLength { // a value the redactor masks; never print one it does not
			fmt.Fprintf(out, "  a line of the runtime's own output: %s=%s\n", s.MaskKey(), s.Value)
			break
		}
	}
	return res, out.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
