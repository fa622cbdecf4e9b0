package sqlstore

import (
	"container/list"
	"sync"
)

// lru is a small least-recently-used cache bounded by total weight, safe
// for concurrent use. The room store keeps NID mappings and decoded state
// in it: values are immutable once stored, so a hit never needs checking
// against the database, and the bound keeps a server with many big rooms
// from holding all their state in memory.
type lru[K comparable, V any] struct {
	mu        sync.Mutex
	maxWeight int
	weight    int
	order     *list.List // front = most recently used
	items     map[K]*list.Element
}

type lruItem[K comparable, V any] struct {
	key    K
	value  V
	weight int
}

func newLRU[K comparable, V any](maxWeight int) *lru[K, V] {
	return &lru[K, V]{maxWeight: maxWeight, order: list.New(), items: map[K]*list.Element{}}
}

func (c *lru[K, V]) get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruItem[K, V]).value, true
}

// add stores value under key with the given weight (at least 1), evicting
// the least recently used entries until the total fits. A value heavier
// than the whole cache is not stored.
func (c *lru[K, V]) add(key K, value V, weight int) {
	weight = max(weight, 1)
	if weight > c.maxWeight {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		item := el.Value.(*lruItem[K, V])
		c.weight += weight - item.weight
		item.value, item.weight = value, weight
		c.order.MoveToFront(el)
	} else {
		c.items[key] = c.order.PushFront(&lruItem[K, V]{key: key, value: value, weight: weight})
		c.weight += weight
	}
	for c.weight > c.maxWeight {
		oldest := c.order.Back()
		item := oldest.Value.(*lruItem[K, V])
		c.order.Remove(oldest)
		delete(c.items, item.key)
		c.weight -= item.weight
	}
}

func (c *lru[K, V]) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.items)
	c.weight = 0
}
