package app

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/httpapi"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint/signer"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/eventstore/natsbus"
)

// startSigner builds serve's checkpoint signer: the key (created on first start), the
// export file when configured, and a NATS connection of its own to ep. close
// releases the file and the connection after the signer has stopped.
func startSigner(a *App, ep natsbus.Endpoint) (s *signer.Signer, close func(), err error) {
	cfg, log := a.opts.Config, a.opts.Log
	path := cfg.CheckpointKeyFile()
	key, created, err := checkpoint.LoadOrCreateKey(path)
	if err != nil {
		return nil, nil, usage.Errorf("%w (LEDGER_CHECKPOINT_KEY_FILE)", err)
	}
	pub := checkpoint.PublicKeyText(key.Public().(ed25519.PublicKey))
	if created {
		log.Info("created the checkpoint signing key; keep a copy of its public key apart from the database", "path", path, "public_key", pub)
	}
	s = &signer.Signer{Log: a.Store, Key: key, InstanceID: cfg.Instance, EveryEvents: cfg.Checkpoints.EveryEvents,
		Interval: cfg.Checkpoints.Every, Wake: a.signerWake, Logger: log}
	var closers []func()
	if f := cfg.Checkpoints.ExportFile; f != "" {
		exp, err := checkpoint.OpenExport(f)
		if err != nil {
			return nil, nil, usage.Errorf("%w (LEDGER_CHECKPOINT_EXPORT)", err)
		}
		closers = append(closers, func() { _ = exp.Close() })
		s.Publish = append(s.Publish, func(_ context.Context, c checkpoint.Checkpoint) error { return exp.Append(c) })
	}
	// Its own connection: publishing never waits behind the relay, and with NATS down
	// the client buffers and reconnects while signing goes on.
	nc, err := ep.Connect("secretsledger checkpoints", nats.RetryOnFailedConnect(true))
	if err != nil {
		for _, c := range closers {
			c()
		}
		return nil, nil, fmt.Errorf("checkpoints: connect to NATS: %w", err)
	}
	closers = append(closers, func() { _ = nc.Drain() })
	s.Publish = append(s.Publish, func(_ context.Context, c checkpoint.Checkpoint) error {
		return nc.Publish(natsbus.CheckpointSubject, c.MarshalLine())
	})
	log.Info("signing checkpoints of the log's head", "public_key", pub, "every_events", s.EveryEvents, "every", s.Interval.String(),
		"export", cfg.Checkpoints.ExportFile)
	return s, func() {
		for _, c := range closers {
			c()
		}
	}, nil
}

// integrityCheck reports the signer's integrity alert in /readyz. A forged event
// degrades readiness rather than failing it: the ledger keeps serving, and every
// process would fail alike.
func integrityCheck(s *signer.Signer) httpapi.Check {
	return httpapi.Check{Name: "integrity", Degrades: true, Run: func(context.Context) (string, error) {
		if p := s.ForgedAt(); p != 0 {
			return "", ledgererr.New(ledgererr.Internal, "forged: the event at position %d has no valid MAC (the ledger did not write it); "+
				"checkpoints stop before it; run `secretsledger verify`", p)
		}
		return "no event without a valid MAC found since the newest checkpoint (checked by the process holding the checkpoint-signer role)", nil
	}}
}
