package lru

import "testing"

// The caches' bound is what keeps a server with many big rooms from
// holding all their state in memory.
func TestLRUEvictsByWeight(t *testing.T) {
	c := New[string, int](10)
	c.Add("a", 1, 4)
	c.Add("b", 2, 4)
	if _, ok := c.Get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.Add("c", 3, 4) // 12 > 10: evicts b, the least recently used
	if _, ok := c.Get("b"); ok {
		t.Error("b survived eviction")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	c.Add("a", 10, 6) // replacing re-weighs: 6 + 4 = 10 fits
	if v, ok := c.Get("a"); !ok || v != 10 {
		t.Errorf("a = %d, %v after replacement", v, ok)
	}
	if _, ok := c.Get("c"); !ok {
		t.Error("c was evicted although the cache fits")
	}
	c.Add("huge", 0, 11) // heavier than the cache: not stored, nothing evicted
	if _, ok := c.Get("huge"); ok {
		t.Error("an entry heavier than the cache was stored")
	}
	if _, ok := c.Get("c"); !ok {
		t.Error("storing an oversized entry evicted others")
	}
	c.Purge()
	if _, ok := c.Get("a"); ok || c.weight != 0 {
		t.Error("purge left entries")
	}
}

// Count-bounded use: weight 1 per entry, least recently used goes first.
func TestPutEvictsOldestByCount(t *testing.T) {
	c := New[int, string](2)
	c.Put(1, "one")
	c.Put(2, "two")
	c.Get(1)
	c.Put(3, "three")
	if _, ok := c.Get(2); ok {
		t.Error("2 should have been evicted")
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d", c.Len())
	}
	c.Remove(1)
	if _, ok := c.Get(1); ok || c.Len() != 1 {
		t.Error("Remove left the entry")
	}
}
