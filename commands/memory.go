package commands

import (
	"context"
	"maps"
	"strings"
	"sync"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// memorySize bounds the aggregates kept of each kind; past it, an arbitrary one is
// dropped for each one added (it is folded from the log again when next needed).
const memorySize = 50000

// memory is the state commands and resolutions decide on, per process: aggregates
// folded from their streams, kept current with this process's appends before their
// callers are answered (Observe, from the writer) and with other processes' appends
// from the log tail (Observe too). A stream not in memory is folded from the log on
// first use; a stream known to have moved (a gap, or a refused append) is read on
// after its version on next use.
//
// Memory is never trusted on its own for a write: every append carries the version of
// each stream its decision read, checked under the append lock. A stale entry costs a
// refused append, a refresh and a second decision, never a wrong event or a value
// released that should not be.
type memory struct {
	secrets   folded[secretState, *secretState]
	consumers folded[consumerState, *consumerState]
	companies folded[companyState, *companyState]
	keys      folded[agentKeyState, *agentKeyState]
	policies  folded[policyState, *policyState]
	vaults    folded[vaultsState, *vaultsState]

	mu sync.Mutex
	// byHash finds the stream of an agent key issued before tokens named their key, by
	// its token's keyed hash, once it has authenticated.
	byHash map[string]string
}

// aggregate is what memory needs of a folded state.
type aggregate[S any] interface {
	*S
	apply(eventstore.Event) error
	version() int64
	// copied is a copy that shares no mutable part with the original.
	copied() S
}

// folded keeps one kind of aggregate by stream.
type folded[S any, P aggregate[S]] struct {
	mu      sync.Mutex
	entries map[string]*entry[S]
	fresh   func() S // the state of a stream with no events
	// keepEmpty keeps states of streams with no events (a consumer nothing was bound to
	// yet is asked for on every resolution; a secret id that does not exist is not).
	keepEmpty bool
}

type entry[S any] struct {
	st    S
	stale bool // the log has events after st that were not applied
}

// readFunc folds the events of stream after a version into apply.
type readFunc func(ctx context.Context, stream string, after int64, apply func(eventstore.Event) error) error

// get returns a stream's state: from memory when it is there and not known to be
// behind, else read from the log after what memory has.
func (f *folded[S, P]) get(ctx context.Context, stream string, read readFunc) (S, error) {
	f.mu.Lock()
	e, ok := f.entries[stream]
	if ok && !e.stale {
		st := P(&e.st).copied()
		f.mu.Unlock()
		noteRead(ctx, stream, P(&st).version())
		return st, nil
	}
	st := f.fresh()
	if ok {
		st = P(&e.st).copied()
	}
	f.mu.Unlock()
	if err := read(ctx, stream, P(&st).version(), P(&st).apply); err != nil {
		return st, err
	}
	f.put(stream, st)
	noteRead(ctx, stream, P(&st).version())
	return st, nil
}

// cached returns a stream's state when memory has it and it is not known to be behind.
func (f *folded[S, P]) cached(stream string) (S, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.entries[stream]; ok && !e.stale {
		return P(&e.st).copied(), true
	}
	return f.fresh(), false
}

// put keeps st as read from the log, unless memory has meanwhile seen more.
func (f *folded[S, P]) put(stream string, st S) {
	if P(&st).version() == 0 && !f.keepEmpty {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.entries[stream]; ok && P(&e.st).version() > P(&st).version() {
		return
	}
	f.insert(stream, P(&st).copied())
}

// insert stores st, making room first. The caller holds f.mu.
func (f *folded[S, P]) insert(stream string, st S) {
	if f.entries == nil {
		f.entries = map[string]*entry[S]{}
	}
	if _, ok := f.entries[stream]; !ok && len(f.entries) >= memorySize {
		for k := range f.entries { // map order is random: an arbitrary entry goes
			delete(f.entries, k)
			break
		}
	}
	f.entries[stream] = &entry[S]{st: st}
}

// markStale records that a stream has moved past what memory holds.
func (f *folded[S, P]) markStale(stream string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.entries[stream]; ok {
		e.stale = true
	}
}

// observe applies one committed event: in order it extends the state; a stream's
// first event starts one; a gap marks the state stale. It reports whether memory now
// holds the stream's state at the event.
func (f *folded[S, P]) observe(e eventstore.Event) (S, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	en, ok := f.entries[e.StreamID]
	switch {
	case !ok && e.StreamVersion == 1:
		st := f.fresh()
		if P(&st).apply(e) != nil {
			return st, false
		}
		f.insert(e.StreamID, st)
		return st, true
	case !ok:
		return f.fresh(), false // not kept: folded from the log when needed
	case en.stale || e.StreamVersion <= P(&en.st).version():
		return en.st, false
	case e.StreamVersion == P(&en.st).version()+1:
		if P(&en.st).apply(e) != nil {
			delete(f.entries, e.StreamID) // read again from the log when next needed
			return en.st, false
		}
		return en.st, true
	default:
		en.stale = true
		return en.st, false
	}
}

// newMemory makes an empty memory; hashes keys what agent keys' issued events record.
func newMemory(hashes keyHashes) *memory {
	return &memory{
		secrets:   folded[secretState, *secretState]{fresh: func() secretState { return secretState{} }},
		consumers: folded[consumerState, *consumerState]{fresh: newConsumerState, keepEmpty: true},
		companies: folded[companyState, *companyState]{fresh: func() companyState { return companyState{} }, keepEmpty: true},
		keys:      folded[agentKeyState, *agentKeyState]{fresh: func() agentKeyState { return agentKeyState{hashes: hashes} }},
		policies:  folded[policyState, *policyState]{fresh: func() policyState { return policyState{} }, keepEmpty: true},
		// Every placement of a new secret reads its company's vaults, which most have none of.
		vaults: folded[vaultsState, *vaultsState]{fresh: func() vaultsState { return vaultsState{vaults: map[string]Vault{}} }, keepEmpty: true},
		byHash: map[string]string{},
	}
}

// Observe applies committed events to the memory. The event store's writer calls it
// with each batch before answering the appenders; the log tail calls it with what
// other processes appended. Events arrive in position order, possibly twice.
func (m *memory) Observe(evs []eventstore.Event) {
	for _, e := range evs {
		switch {
		case strings.HasPrefix(e.StreamID, events.SecretStreamPrefix):
			m.secrets.observe(e)
		case strings.HasPrefix(e.StreamID, events.ConsumerStreamPrefix):
			m.consumers.observe(e)
		case strings.HasPrefix(e.StreamID, events.CompanyStreamPrefix):
			m.companies.observe(e)
		case strings.HasPrefix(e.StreamID, events.ExternalPolicyStreamPrefix):
			m.policies.observe(e)
		case strings.HasPrefix(e.StreamID, events.AgentKeyStreamPrefix):
			m.keys.observe(e) // tokens name their key: no index to keep
		case strings.HasPrefix(e.StreamID, events.VaultStreamPrefix):
			m.vaults.observe(e)
		}
	}
}

// markStale records that a stream has moved past what memory holds; its next use
// reads it on from the log.
func (m *memory) markStale(stream string) {
	m.secrets.markStale(stream)
	m.consumers.markStale(stream)
	m.companies.markStale(stream)
	m.keys.markStale(stream)
	m.policies.markStale(stream)
	m.vaults.markStale(stream)
}

func (m *memory) indexKey(hash, stream string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.byHash) >= memorySize {
		clear(m.byHash)
	}
	m.byHash[hash] = stream
}

func (m *memory) keyStream(hash string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byHash[hash]
	return s, ok
}

func (s secretState) version() int64 { return s.streamVersion }

func (s secretState) copied() secretState {
	s.versions = maps.Clone(s.versions)
	return s
}

func (s consumerState) version() int64 { return s.streamVersion }

func (s consumerState) copied() consumerState {
	s.bindings = maps.Clone(s.bindings)
	s.env = maps.Clone(s.env)
	return s
}

func (s companyState) version() int64       { return s.streamVersion }
func (s companyState) copied() companyState { return s }

func (s vaultsState) version() int64 { return s.streamVersion }

// copied shares no map with s: apply replaces a vault's Config, never changes it.
func (s vaultsState) copied() vaultsState {
	s.vaults = maps.Clone(s.vaults)
	return s
}
