package localenc

import "sync"

// keyCacheSize bounds the cached wrapped data keys (about 100 bytes each).
const keyCacheSize = 10000

type cachedKey struct {
	company string
	wrapped []byte
}

// keyCache keeps wrapped data keys (never unwrapped ones) so that a rotation needs no
// read before its write. When full it is simply emptied: a miss costs one query.
type keyCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
}

func (c *keyCache) get(secretID string) (cachedKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[secretID]
	return k, ok
}

func (c *keyCache) put(secretID string, k cachedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= keyCacheSize {
		c.m = map[string]cachedKey{}
	}
	c.m[secretID] = k
}

func (c *keyCache) drop(secretID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, secretID)
}

func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}
