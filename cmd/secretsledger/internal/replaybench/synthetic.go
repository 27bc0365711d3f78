package replaybench

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/progress"
	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// benchCompany is the company of every synthetic event.
const benchCompany = "00000000-0000-4000-8000-00000000bench"

// generate appends n events (counted on p) in a realistic mix, in batches: per consumer, 3 bindings
// and an agent key; then 80 % access records, 15 % rotations, 5 % new secrets.
func generate(ctx context.Context, store *eventstore.Store, n int, p *progress.Line) error {
	g := &synthetic{ctx: ctx, store: store, p: p, versions: map[string]int{}}
	if err := g.setup(); err != nil {
		return err
	}
	return g.bulk(n)
}

// Shape of the synthetic log.
const (
	benchConsumers = 200
	benchPerBatch  = 500
)

// synthetic is the writer of the synthetic log: every event of benchCompany.
type synthetic struct {
	ctx   context.Context
	store *eventstore.Store
	p     *progress.Line
	mu    sync.Mutex
	// written counts the events appended so far.
	written int
	// secretIDs are the secrets bound and rotated; versions their latest versions.
	secretIDs []string
	versions  map[string]int
	// created counts the secrets created by the bulk.
	created int
}

func (g *synthetic) event(typ string, payload any) eventstore.EventData {
	e, _ := events.New(typ, benchCompany, payload, eventstore.Metadata{ActorType: "board", ActorID: "bench"})
	return e
}

func (g *synthetic) append(stream string, expected int64, evs []eventstore.EventData) error {
	if _, err := g.store.Append(g.ctx, stream, expected, evs...); err != nil {
		return err
	}
	g.mu.Lock()
	g.written += len(evs)
	g.mu.Unlock()
	g.p.Add(int64(len(evs)))
	return nil
}

// setup appends the secrets to bind and rotate, and per consumer its bindings and an
// agent key.
func (g *synthetic) setup() error {
	for i := range benchConsumers * 3 {
		id := fmt.Sprintf("bench-secret-%06d", i)
		g.secretIDs = append(g.secretIDs, id)
		g.versions[id] = 1
		if err := g.append(events.SecretStream(id), eventstore.NoStream, []eventstore.EventData{g.event(events.SecretCreated, events.SecretCreatedV1{
			SecretID: id, Name: id, Key: id, Provider: "local_encrypted", ManagedMode: "paperclip_managed",
			ProviderVersionRef: "lev_" + id, Fingerprint: strings.Repeat("ab", 32)})}); err != nil {
			return err
		}
	}
	for c := range benchConsumers {
		target := fmt.Sprintf("agent-%04d", c)
		var evs []eventstore.EventData
		for j := range 3 {
			evs = append(evs, g.event(events.BindingCreated, events.BindingCreatedV1{BindingID: fmt.Sprintf("b-%d-%d", c, j),
				SecretID: g.secretIDs[c*3+j], TargetType: "agent", TargetID: target, ConfigPath: fmt.Sprintf("env.K%d", j),
				VersionSelector: "latest", Required: true}))
		}
		if err := g.append(events.ConsumerStream(benchCompany, "agent", target), eventstore.NoStream, evs); err != nil {
			return err
		}
		if err := g.append(events.AgentKeyStream(target), eventstore.NoStream, []eventstore.EventData{g.event(events.AgentKeyIssued,
			events.AgentKeyIssuedV2{KeyID: target, TargetType: "agent", TargetID: target, TokenKeyedHash: fmt.Sprintf("%064x", c)})}); err != nil {
			return err
		}
	}
	return nil
}

// bulk appends the rest of the n events from 16 writers, so that group commit batches
// them.
func (g *synthetic) bulk(n int) error {
	work := make(chan func() error)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := f(); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	planned := g.written // setup events, all written by now
	for batch := 0; planned < n && len(errs) == 0; batch++ {
		size := min(benchPerBatch, n-planned)
		planned += size
		for _, f := range g.batch(batch, size) {
			work <- f
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// batch is the appends of batch number batch, of size events: access records of one
// consumer (16 batches in 20), rotations of one secret (3 in 20), or new secrets, one
// stream (and one append) each.
func (g *synthetic) batch(batch, size int) []func() error {
	switch r := batch % 20; {
	case r < 16:
		target := fmt.Sprintf("agent-%04d", batch%benchConsumers)
		evs := make([]eventstore.EventData, size)
		for i := range evs {
			evs[i] = g.event(events.SecretAccessed, events.SecretAccessedV1{SecretID: g.secretIDs[(batch%benchConsumers)*3+i%3], Version: 1,
				TargetType: "agent", TargetID: target, ConfigPath: fmt.Sprintf("env.K%d", i%3), RunID: "run", Outcome: "resolved"})
		}
		return []func() error{func() error {
			return g.append(events.AccessStream(benchCompany, "agent", target), eventstore.Unversioned, evs)
		}}
	case r < 19:
		id := g.secretIDs[batch%len(g.secretIDs)]
		evs := make([]eventstore.EventData, size)
		for i := range evs {
			g.versions[id]++
			evs[i] = g.event(events.SecretVersionAdded, events.SecretVersionAddedV1{SecretID: id, Version: g.versions[id],
				ProviderVersionRef: fmt.Sprintf("lev_%s_%d", id, g.versions[id]), Fingerprint: strings.Repeat("cd", 32)})
		}
		return []func() error{func() error { return g.append(events.SecretStream(id), eventstore.AnyVersion, evs) }}
	}
	fs := make([]func() error, 0, size)
	for range size {
		g.created++
		id := fmt.Sprintf("bench-new-%08d", g.created)
		e := g.event(events.SecretCreated, events.SecretCreatedV1{SecretID: id, Name: id, Key: id,
			Provider: "local_encrypted", ManagedMode: "paperclip_managed", ProviderVersionRef: "lev_" + id})
		fs = append(fs, func() error { return g.append(events.SecretStream(id), eventstore.NoStream, []eventstore.EventData{e}) })
	}
	return fs
}
