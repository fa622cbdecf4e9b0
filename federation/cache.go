package federation

import (
	"sync"
	"time"
)

// boundedCache maps names to values that expire. It holds at most max
// entries, so a flood of lookups for distinct names (every server name is
// chosen by someone else) cannot grow it without limit. Expired entries
// stay readable until evicted: callers use them for backoff and fallback.
type boundedCache[V any] struct {
	mu      sync.Mutex
	max     int
	entries map[string]cached[V]
}

type cached[V any] struct {
	value   V
	expires time.Time
}

func newBoundedCache[V any](max int) *boundedCache[V] {
	return &boundedCache[V]{max: max, entries: make(map[string]cached[V])}
}

// get returns the entry for key, expired or not.
func (c *boundedCache[V]) get(key string) (cached[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok
}

// put stores value until expires, first making room if the cache is full.
func (c *boundedCache[V]) put(key string, value V, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[key]; !exists && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = cached[V]{value: value, expires: expires}
}

// evict drops every expired entry or, if none has expired, the one that
// expires soonest. It scans the map, which is only done when full.
func (c *boundedCache[V]) evict(now time.Time) {
	var soonest string
	var soonestAt time.Time
	for k, e := range c.entries {
		if !e.expires.After(now) {
			delete(c.entries, k)
			continue
		}
		if soonest == "" || e.expires.Before(soonestAt) {
			soonest, soonestAt = k, e.expires
		}
	}
	if len(c.entries) >= c.max {
		delete(c.entries, soonest)
	}
}
