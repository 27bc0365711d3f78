package localenc

import "sync"

// valueCacheBytes bounds the ciphertexts kept in memory; when a new one would pass it,
// the cache is emptied (a miss costs one query).
const valueCacheBytes = 32 << 20

// valueCache keeps ciphertexts (never plaintext) by secret and reference, so that a
// resolution of values this process has written or read before needs no query: a
// stored version never changes while servers run (re-encryption runs with them stopped
// and drops the entries of the process that runs it), and a purge is decided on the
// ledger's state before any read (the provider also drops a destroyed secret's entries).
type valueCache struct {
	mu    sync.Mutex
	m     map[valueKey][]byte
	bytes int
}

type valueKey struct{ secretID, ref string }

func (c *valueCache) get(secretID, ref string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct, ok := c.m[valueKey{secretID, ref}]
	return ct, ok
}

func (c *valueCache) put(secretID, ref string, ct []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.bytes+len(ct) > valueCacheBytes {
		c.m, c.bytes = map[valueKey][]byte{}, 0
	}
	k := valueKey{secretID, ref}
	if old, ok := c.m[k]; ok {
		c.bytes -= len(old)
	}
	c.m[k] = ct
	c.bytes += len(ct)
}

// dropSecret forgets every ciphertext of a secret (a purge).
func (c *valueCache) dropSecret(secretID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ct := range c.m {
		if k.secretID == secretID {
			c.bytes -= len(ct)
			delete(c.m, k)
		}
	}
}

func (c *valueCache) drop(secretID, ref string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := valueKey{secretID, ref}
	c.bytes -= len(c.m[k])
	delete(c.m, k)
}
