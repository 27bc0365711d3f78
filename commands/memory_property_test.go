package commands

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// Random interleavings of commands and resolutions through two processes' memories on
// one log (no tail: each learns of the other's writes only when an append is refused
// or an answer is checked), then the whole log is folded from scratch, event by event:
// every event must be one that a decision on the fresh state just before it would
// have accepted. A memory that let a stale decision through would leave an event the
// fresh fold refuses.
func TestStaleMemoryNeverWritesWhatAFreshFoldRefuses(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.cfg.Directory = testDirectory{queries.Consumers{DB: f.pool}}
			other := otherProcess(t, f)
			runRandomCommands(t, f, []handlers{f.h(), other}, rand.New(rand.NewPCG(seed, 7)), 250)
			checkLogAgainstFreshFold(t, f)
		})
	}
}

func runRandomCommands(t *testing.T, f *fixture, procs []handlers, rng *rand.Rand, steps int) {
	ctx := context.Background()
	consumers := []Consumer{{CompanyID: "co", TargetType: "agent", TargetID: "x"}, {CompanyID: "co", TargetType: "agent", TargetID: "y"}}
	var secrets, keys, tokens []string
	for i := range 3 {
		res, err := f.h().Create(ctx, board, CreateSecret{CompanyID: "co", Name: fmt.Sprintf("s%d", i), Value: val("v")})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, res.SecretID)
	}
	for _, c := range consumers {
		k, err := f.h().IssueKey(ctx, board, IssueAgentKey{Consumer: c})
		if err != nil {
			t.Fatal(err)
		}
		keys, tokens = append(keys, k.KeyID), append(tokens, k.Token)
	}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	paths := []string{"env.A", "env.B"}
	for step := range steps {
		h := procs[rng.IntN(len(procs))]
		c := consumers[rng.IntN(len(consumers))]
		var err error
		switch op := rng.IntN(12); op {
		case 0, 1:
			_, err = h.Rotate(ctx, board, RotateSecret{SecretID: pick(secrets), Value: val("r" + strconv.Itoa(step))})
		case 2:
			latest := rng.IntN(6) + 1
			_, err = h.Rotate(ctx, board, RotateSecret{SecretID: pick(secrets), Value: val("c"), ExpectedLatestVersion: &latest})
		case 3:
			status := []string{StatusActive, StatusDisabled, StatusArchived}[rng.IntN(3)]
			_, err = h.Update(ctx, board, UpdateSecret{SecretID: pick(secrets), Status: &status})
		case 4:
			_, err = h.Delete(ctx, board, pick(secrets))
		case 5:
			_, err = h.Restore(ctx, board, pick(secrets))
		case 6:
			_, err = h.Bind(ctx, board, CreateBinding{Consumer: c, SecretID: pick(secrets), ConfigPath: pick(paths)})
		case 7:
			st, lerr := h.loadConsumer(ctx, c)
			if lerr != nil {
				t.Fatal(lerr)
			}
			for _, b := range st.bindings {
				_, err = h.Unbind(ctx, board, b.id)
				break
			}
		case 8:
			_, err = h.Freeze(ctx, board, SetFreeze{Consumer: Consumer{CompanyID: "co"}, Frozen: rng.IntN(3) == 0, Reason: "r"})
		case 9:
			if rng.IntN(4) == 0 {
				_, err = h.RevokeKey(ctx, board, pick(keys))
			} else {
				var k AgentKeyResult
				if k, err = h.IssueKey(ctx, board, IssueAgentKey{Consumer: c}); err == nil {
					keys, tokens = append(keys, k.KeyID), append(tokens, k.Token)
				}
			}
		default:
			a, aerr := h.AuthenticateAgent(ctx, pick(tokens))
			if aerr == nil {
				_, err = h.ResolveValues(ctx, Request{Actor: a}, Resolve{})
			}
		}
		switch ledgererr.CodeOf(err) {
		case "", ledgererr.NotFound, ledgererr.Invalid, ledgererr.Conflict, ledgererr.Forbidden, ledgererr.Unauthorized:
		default:
			t.Fatalf("step %d: %v", step, err)
		}
	}
}

// checkLogAgainstFreshFold folds the log from the start and checks each event against
// the state just before it, as a fresh decision would see it.
func checkLogAgainstFreshFold(t *testing.T, f *fixture) {
	ctx := context.Background()
	if _, err := f.store.SealedThrough(ctx); err != nil { // the fold reads the sealed log: all of it
		t.Fatal(err)
	}
	fold := newFreshFold()
	var after int64
	checked := map[string]int{}
	for {
		evs, err := f.store.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			after = e.Position
			p, err := events.Decode(e)
			if err != nil {
				t.Fatal(err)
			}
			refuse := func(format string, args ...any) {
				t.Errorf("event %d (%s): a fresh fold refuses it: %s", e.Position, e.Type, fmt.Sprintf(format, args...))
			}
			fold.check(e, p, refuse)
			checked[e.Type]++
			fold.apply(t, e)
		}
	}
	// The run must have exercised the decisions it checks.
	for _, typ := range []string{events.SecretVersionAdded, events.BindingCreated, events.BindingRemoved, events.SecretAccessed,
		events.SecretUpdated, events.SecretDeleted, events.CompanyFrozen} {
		if checked[typ] == 0 {
			t.Errorf("the random run wrote no %s event", typ)
		}
	}
}

// freshFold is the state of every aggregate folded from the start of the log, each
// created empty the first time an event names it.
type freshFold struct {
	secrets   map[string]*secretState
	consumers map[string]*consumerState
	companies map[string]*companyState
	keys      map[string]*agentKeyState
}

func newFreshFold() *freshFold {
	return &freshFold{secrets: map[string]*secretState{}, consumers: map[string]*consumerState{},
		companies: map[string]*companyState{}, keys: map[string]*agentKeyState{}}
}

func (ff *freshFold) secret(id string) *secretState {
	if ff.secrets[id] == nil {
		ff.secrets[id] = &secretState{}
	}
	return ff.secrets[id]
}

func (ff *freshFold) consumer(stream string) *consumerState {
	if ff.consumers[stream] == nil {
		st := newConsumerState()
		ff.consumers[stream] = &st
	}
	return ff.consumers[stream]
}

func (ff *freshFold) company(id string) *companyState {
	if ff.companies[id] == nil {
		ff.companies[id] = &companyState{}
	}
	return ff.companies[id]
}

// check calls refuse when a fresh decision over the state folded so far would not have
// written event e (decoded as p).
func (ff *freshFold) check(e eventstore.Event, p any, refuse func(format string, args ...any)) {
	secret, consumer, company, keys := ff.secret, ff.consumer, ff.company, ff.keys
	switch p := p.(type) {
	case *events.SecretVersionAddedV1:
		if st := secret(p.SecretID); !st.exists || st.deleted || st.status != StatusActive || p.Version != st.latestVersion+1 {
			refuse("secret exists %v, deleted %v, status %s, latest %d, version %d", st.exists, st.deleted, st.status, st.latestVersion, p.Version)
		}
	case *events.SecretUpdatedV1, *events.SecretDeletedV1:
		if st := secret(streamID(e, events.SecretStreamPrefix)); !st.exists || st.deleted {
			refuse("the secret is deleted or does not exist")
		}
	case *events.SecretRestoredV1:
		if st := secret(p.SecretID); !st.deleted || st.purged {
			refuse("the secret is not deleted")
		}
	case *events.BindingCreatedV1:
		st, sec := consumer(e.StreamID), secret(p.SecretID)
		if _, taken := st.bindings[p.ConfigPath]; taken || !sec.exists || sec.deleted {
			refuse("path taken %v, secret exists %v deleted %v", taken, sec.exists, sec.deleted)
		}
	case *events.BindingRemovedV1:
		if b, ok := consumer(e.StreamID).bindings[p.ConfigPath]; !ok || b.id != p.BindingID {
			refuse("no such binding")
		}
	case *events.AgentKeyRevokedV1:
		if k := keys[e.StreamID]; k == nil || k.revoked {
			refuse("the key is revoked or unknown")
		}
	case *events.CompanyFrozenV1:
		if company(e.CompanyID).freeze.frozen {
			refuse("already frozen")
		}
	case *events.CompanyUnfrozenV1:
		if !company(e.CompanyID).freeze.frozen {
			refuse("not frozen")
		}
	case *events.SecretAccessedV1:
		if p.Outcome != Resolved || p.Source != "" {
			break
		}
		k := keys[events.AgentKeyStream(e.Metadata.ActorID)]
		con := consumer(events.ConsumerStream(e.CompanyID, p.TargetType, p.TargetID))
		b, bound := con.bindings[p.ConfigPath]
		sec := secret(p.SecretID)
		_, hasVersion := sec.versions[p.Version]
		if k == nil || k.revoked || company(e.CompanyID).freeze.frozen || con.freeze.frozen || !bound || b.secretID != p.SecretID ||
			!sec.exists || sec.deleted || sec.status != StatusActive || !hasVersion || (b.selector == "latest" && p.Version != sec.latestVersion) {
			refuse("a value left that a fresh decision would have refused (key %v, bound %v, secret %+v)", k, bound, sec.status)
		}
	}
}

// apply folds event e into the state of the aggregate whose stream it is on.
func (ff *freshFold) apply(t *testing.T, e eventstore.Event) {
	t.Helper()
	var apply func(eventstore.Event) error
	switch {
	case strings.HasPrefix(e.StreamID, events.SecretStreamPrefix):
		apply = ff.secret(streamID(e, events.SecretStreamPrefix)).apply
	case strings.HasPrefix(e.StreamID, events.ConsumerStreamPrefix):
		apply = ff.consumer(e.StreamID).apply
	case e.StreamID == events.CompanyStream(e.CompanyID):
		apply = ff.company(e.CompanyID).apply
	case strings.HasPrefix(e.StreamID, events.AgentKeyStreamPrefix):
		if ff.keys[e.StreamID] == nil {
			ff.keys[e.StreamID] = &agentKeyState{}
		}
		apply = ff.keys[e.StreamID].apply
	}
	if apply != nil {
		if err := apply(e); err != nil {
			t.Fatal(err)
		}
	}
}

// streamID is the id part of a stream named prefix+id.
func streamID(e eventstore.Event, prefix string) string {
	return strings.TrimPrefix(e.StreamID, prefix)
}
