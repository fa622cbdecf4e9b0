// Package lru is the one bounded least-recently-used cache Warbler's
// in-process caches share (the roomserver's events, snapshots and rooms;
// storage's NID mappings and decoded state). Entries carry a weight, so a
// cache can be bounded by entry count (weight 1) or by size.
//
// It must not know what it caches: no I/O, no expiry clocks.
package lru

import (
	"container/list"
	"sync"
)

// Cache is bounded by the total weight of its entries and is safe for
// concurrent use.
type Cache[K comparable, V any] struct {
	mu        sync.Mutex
	maxWeight int
	weight    int
	order     *list.List // front = most recently used; values are *item
	items     map[K]*list.Element
}

type item[K comparable, V any] struct {
	key    K
	value  V
	weight int
}

// New returns a cache holding at most maxWeight (at least 1).
func New[K comparable, V any](maxWeight int) *Cache[K, V] {
	return &Cache[K, V]{maxWeight: max(maxWeight, 1), order: list.New(), items: map[K]*list.Element{}}
}

// Get returns the value under key and marks it recently used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*item[K, V]).value, true
}

// Put stores value with weight 1.
func (c *Cache[K, V]) Put(key K, value V) { c.Add(key, value, 1) }

// Add stores value under key with the given weight (at least 1), evicting
// the least recently used entries until the total fits. A value heavier
// than the whole cache is not stored (and an older value under key goes).
func (c *Cache[K, V]) Add(key K, value V, weight int) {
	weight = max(weight, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if weight > c.maxWeight {
		c.removeLocked(key)
		return
	}
	if el, ok := c.items[key]; ok {
		it := el.Value.(*item[K, V])
		c.weight += weight - it.weight
		it.value, it.weight = value, weight
		c.order.MoveToFront(el)
	} else {
		c.items[key] = c.order.PushFront(&item[K, V]{key: key, value: value, weight: weight})
		c.weight += weight
	}
	for c.weight > c.maxWeight {
		c.removeElement(c.order.Back())
	}
}

// Remove forgets key.
func (c *Cache[K, V]) Remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
}

func (c *Cache[K, V]) removeLocked(key K) {
	if el, ok := c.items[key]; ok {
		c.removeElement(el)
	}
}

func (c *Cache[K, V]) removeElement(el *list.Element) {
	it := el.Value.(*item[K, V])
	c.order.Remove(el)
	delete(c.items, it.key)
	c.weight -= it.weight
}

// Len is the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Purge forgets everything.
func (c *Cache[K, V]) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.items)
	c.weight = 0
}
