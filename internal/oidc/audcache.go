package oidc

import (
	"sync"
	"time"
)

// audienceCacheTTL is how long an identity's exchange audiences (and name)
// are kept in memory. A change made on this server empties the cache at
// once; one made on another replica applies here within this time, like a
// token check's cached answer.
const audienceCacheTTL = time.Second

// audienceCacheSize bounds the cache; when full it starts over.
const audienceCacheSize = 10000

type audienceEntry struct {
	audiences []string
	name      string
	expires   time.Time
}

// audienceCache keeps ExchangeAudiences answers for audienceCacheTTL. gen
// is bumped with every emptying, so a read that began before a change does
// not fill the cache after it.
type audienceCache struct {
	mu  sync.Mutex
	m   map[string]audienceEntry
	gen uint64
}

func (c *audienceCache) get(id string, now time.Time) (audienceEntry, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e, c.gen, ok && now.Before(e.expires)
}

func (c *audienceCache) put(id string, gen uint64, e audienceEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= audienceCacheSize {
		c.m = make(map[string]audienceEntry)
	}
	c.m[id] = e
}

func (c *audienceCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
	c.gen++
}
