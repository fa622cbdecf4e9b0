package sqlstore

import "testing"

// The caches' bound is what keeps a server with many big rooms from
// holding all their state in memory.
func TestLRUEvictsByWeight(t *testing.T) {
	c := newLRU[string, int](10)
	c.add("a", 1, 4)
	c.add("b", 2, 4)
	if _, ok := c.get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.add("c", 3, 4) // 12 > 10: evicts b, the least recently used
	if _, ok := c.get("b"); ok {
		t.Error("b survived eviction")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	c.add("a", 10, 6) // replacing re-weighs: 6 + 4 = 10 fits
	if v, ok := c.get("a"); !ok || v != 10 {
		t.Errorf("a = %d, %v after replacement", v, ok)
	}
	if _, ok := c.get("c"); !ok {
		t.Error("c was evicted although the cache fits")
	}
	c.add("huge", 0, 11) // heavier than the cache: not stored, nothing evicted
	if _, ok := c.get("huge"); ok {
		t.Error("an entry heavier than the cache was stored")
	}
	if _, ok := c.get("c"); !ok {
		t.Error("storing an oversized entry evicted others")
	}
	c.purge()
	if _, ok := c.get("a"); ok || c.weight != 0 {
		t.Error("purge left entries")
	}
}
