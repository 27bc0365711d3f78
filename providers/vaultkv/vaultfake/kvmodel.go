package vaultfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
)

// defaultMaxVersions is KV v2's number of versions kept when neither the secret nor the
// mount configures one.
const defaultMaxVersions = 10

type namespace struct {
	path   string
	mounts map[string]*mount // by path without slashes at either end
}

type mountConfig struct {
	maxVersions        int
	casRequired        bool
	deleteVersionAfter time.Duration
}

type mount struct {
	path     string
	version  int
	accessor string
	uuid     string
	cfg      mountConfig
	v2       map[string]*kvSecret
	v1       map[string]map[string]any
}

func newMount(path string, version int) *mount {
	return &mount{path: path, version: version, accessor: "kv_" + strings.ToLower(randomString(8)), uuid: uuid(),
		v2: map[string]*kvSecret{}, v1: map[string]map[string]any{}}
}

type kvVersion struct {
	data      map[string]any // nil once destroyed
	created   time.Time
	deletion  time.Time // zero: not deleted; may lie in the future (delete_version_after)
	destroyed bool
}

// deleted reports whether the version counts as deleted at now: a deletion time in the
// future (delete_version_after) has not happened yet.
func (v *kvVersion) deleted(now time.Time) bool {
	return !v.deletion.IsZero() && !v.deletion.After(now)
}

type kvSecret struct {
	current, oldest    int
	maxVersions        int
	casRequired        bool
	deleteVersionAfter time.Duration
	custom             map[string]string // nil: none set
	created, updated   time.Time
	versions           map[int]*kvVersion
}

func newSecret(now time.Time) *kvSecret {
	return &kvSecret{created: now, updated: now, versions: map[int]*kvVersion{}}
}

// addVersion stores data as the next version and drops the versions beyond the
// secret's (else the mount's, else 10) max_versions, oldest first, as KV v2 does.
func (m *mount) addVersion(s *kvSecret, data map[string]any, now time.Time) *kvVersion {
	v := &kvVersion{data: cloneData(data), created: now}
	dva := s.deleteVersionAfter
	if dva == 0 {
		dva = m.cfg.deleteVersionAfter
	}
	if dva > 0 {
		v.deletion = now.Add(dva)
	}
	s.current++
	s.versions[s.current] = v
	s.updated = now
	limit := s.maxVersions
	if limit == 0 {
		limit = m.cfg.maxVersions
	}
	if limit == 0 {
		limit = defaultMaxVersions
	}
	if len(s.versions) > limit {
		drop := s.current - limit
		for i := s.oldest; i <= drop; i++ {
			delete(s.versions, i)
		}
		s.oldest = drop + 1
	}
	return v
}

// cloneData deep-copies a JSON object so that callers and the store never share maps.
func cloneData(data map[string]any) map[string]any {
	if data == nil {
		return nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("vaultfake: data is not JSON: %v", err))
	}
	// Numbers stay json.Number: a float64 would round integers above 2^53.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		panic(err)
	}
	return out
}

func (st *state) mountOf(ns, path string) *mount {
	n := st.namespaces[cleanNS(ns)]
	if n == nil {
		panic(fmt.Sprintf("vaultfake: no namespace %q", ns))
	}
	m := n.mounts[strings.Trim(path, "/")]
	if m == nil {
		panic(fmt.Sprintf("vaultfake: no mount %q in namespace %q", path, ns))
	}
	return m
}

// Write stores data as a new version of the KV v2 secret at path (no check-and-set),
// as someone writing at Vault behind the ledger's back would, and returns its version.
// It panics when the mount does not exist. No call is counted.
func (f *Fake) Write(ns, mount, path string, data map[string]any) int {
	st := f.lock()
	defer st.mu.Unlock()
	m := st.mountOf(ns, mount)
	now := st.clock()
	s := m.v2[path]
	if s == nil {
		s = newSecret(now)
		m.v2[path] = s
	}
	m.addVersion(s, data, now)
	return s.current
}

// DeleteVersions soft-deletes versions of the secret at path (the latest when none is
// given): their data answers 404 with a deletion_time until undeleted.
func (f *Fake) DeleteVersions(ns, mount, path string, versions ...int) {
	f.versionsDo(ns, mount, path, versions, func(v *kvVersion, now time.Time) {
		if !v.destroyed && !v.deleted(now) {
			v.deletion = now
		}
	})
}

// DestroyVersions destroys versions of the secret at path (the latest when none is
// given): their data is gone for good.
func (f *Fake) DestroyVersions(ns, mount, path string, versions ...int) {
	f.versionsDo(ns, mount, path, versions, func(v *kvVersion, _ time.Time) {
		v.destroyed = true
		v.data = nil
	})
}

func (f *Fake) versionsDo(ns, mount, path string, versions []int, fn func(*kvVersion, time.Time)) {
	st := f.lock()
	defer st.mu.Unlock()
	s := st.mountOf(ns, mount).v2[path]
	if s == nil {
		return
	}
	if len(versions) == 0 {
		versions = []int{s.current}
	}
	for _, n := range versions {
		if v := s.versions[n]; v != nil {
			fn(v, st.clock())
		}
	}
}

// SetCustomMetadata replaces the custom metadata of the secret at path (creating its
// metadata when it has none), as an operator at Vault would.
func (f *Fake) SetCustomMetadata(ns, mount, path string, custom map[string]string) {
	st := f.lock()
	defer st.mu.Unlock()
	m := st.mountOf(ns, mount)
	s := m.v2[path]
	if s == nil {
		s = newSecret(st.clock())
		m.v2[path] = s
	}
	s.custom = maps.Clone(custom)
	s.updated = st.clock()
}

// ConfigureMount sets a KV v2 mount's configuration (POST <mount>/config).
func (f *Fake) ConfigureMount(ns, mount string, maxVersions int, casRequired bool, deleteVersionAfter time.Duration) {
	st := f.lock()
	defer st.mu.Unlock()
	st.mountOf(ns, mount).cfg = mountConfig{maxVersions: maxVersions, casRequired: casRequired, deleteVersionAfter: deleteVersionAfter}
}

// VersionState is one version of a secret as the fake holds it.
type VersionState struct {
	Data      map[string]any // nil when destroyed
	Created   time.Time
	Deletion  time.Time // zero when not deleted
	Destroyed bool
}

// SecretState is a KV v2 secret as the fake holds it.
type SecretState struct {
	CurrentVersion     int
	OldestVersion      int
	MaxVersions        int
	CASRequired        bool
	DeleteVersionAfter time.Duration
	CustomMetadata     map[string]string
	Versions           map[int]VersionState
}

// Secret returns the secret at path in a KV v2 mount, and whether it exists (has
// metadata).
func (f *Fake) Secret(ns, mount, path string) (SecretState, bool) {
	st := f.lock()
	defer st.mu.Unlock()
	s := st.mountOf(ns, mount).v2[path]
	if s == nil {
		return SecretState{}, false
	}
	out := SecretState{CurrentVersion: s.current, OldestVersion: s.oldest, MaxVersions: s.maxVersions,
		CASRequired: s.casRequired, DeleteVersionAfter: s.deleteVersionAfter, CustomMetadata: maps.Clone(s.custom),
		Versions: map[int]VersionState{}}
	for n, v := range s.versions {
		out.Versions[n] = VersionState{Data: cloneData(v.data), Created: v.created, Deletion: v.deletion, Destroyed: v.destroyed}
	}
	return out, true
}

// Paths returns the paths of every secret with metadata in a KV v2 mount, unsorted.
func (f *Fake) Paths(ns, mount string) []string {
	st := f.lock()
	defer st.mu.Unlock()
	var out []string
	for p := range st.mountOf(ns, mount).v2 {
		out = append(out, p)
	}
	return out
}

// WriteV1 stores data at path in a KV version 1 mount.
func (f *Fake) WriteV1(ns, mount, path string, data map[string]any) {
	st := f.lock()
	defer st.mu.Unlock()
	st.mountOf(ns, mount).v1[path] = cloneData(data)
}
