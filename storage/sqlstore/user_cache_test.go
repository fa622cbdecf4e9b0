package sqlstore

import "testing"

// TestUserCacheRaceGuard walks the interleavings of one read (begin,
// database read, put) with one write (startWrite, commit, endWrite) that
// the storage suite cannot force: no interleaving leaves the value from
// before the write in the cache, or serves it while the write is in
// flight.
func TestUserCacheRaceGuard(t *testing.T) {
	wantMiss := func(c *userCache[string, int], what string) {
		t.Helper()
		if v, ok := c.get("k"); ok {
			t.Errorf("%s: cached %d", what, v)
		}
	}

	// The read fetched the old value before the commit and puts it after
	// the write ended.
	c := newUserCache[string, int](1 << 10)
	epoch := c.begin()
	c.startWrite("k")
	c.endWrite("k")
	c.put(epoch, "k", 1, 1)
	wantMiss(c, "put after a write ended")

	// A write of another key ended meanwhile: the epoch is one per cache.
	epoch = c.begin()
	c.startWrite("other")
	c.endWrite("other")
	c.put(epoch, "k", 1, 1)
	wantMiss(c, "put after another key's write ended")

	// The put comes while the write is in flight (its commit may have
	// landed): not served, and gone when the write ends.
	epoch = c.begin()
	c.startWrite("k")
	c.put(epoch, "k", 1, 1)
	wantMiss(c, "put during a write")
	c.endWrite("k")
	wantMiss(c, "put during a write, after it")

	// A value cached before the write is not served while the write is
	// in flight (a reader after the commit must not see it), and is gone
	// after.
	c.put(c.begin(), "k", 1, 1)
	if v, ok := c.get("k"); !ok || v != 1 {
		t.Fatalf("a read with no write about was not cached: %d, %v", v, ok)
	}
	c.startWrite("k")
	wantMiss(c, "get during a write")
	c.startWrite("k") // a second writer of the key
	c.endWrite("k")
	wantMiss(c, "get while the second write is in flight")
	c.endWrite("k")
	wantMiss(c, "get after the writes")
	if len(c.writing) != 0 {
		t.Errorf("writes in flight left after they ended: %v", c.writing)
	}

	// A write that named no key (a persist that changed no membership)
	// does not hold back the reads of others.
	epoch = c.begin()
	c.endWrite()
	c.put(epoch, "k", 3, 1)
	if v, ok := c.get("k"); !ok || v != 3 {
		t.Errorf("a write of no key refused a put: %d, %v", v, ok)
	}
}

// TestUserCacheBound: the caches are bounded by weight.
func TestUserCacheBound(t *testing.T) {
	c := newUserCache[int, int](10)
	for i := range 20 {
		c.put(c.begin(), i, i, 1)
	}
	if n := c.entries.Len(); n != 10 {
		t.Errorf("%d entries in a cache of weight 10", n)
	}
	if _, ok := c.get(19); !ok {
		t.Error("the newest entry was evicted")
	}
}

// TestUserCacheWriteAll: a write of every key hides cached values while
// it runs, empties the cache when it ends, and refuses the put of a read
// that began before it ended.
func TestUserCacheWriteAll(t *testing.T) {
	c := newUserCache[string, int](1 << 10)
	c.put(c.begin(), "a", 1, 1)
	c.put(c.begin(), "b", 2, 1)
	epoch := c.begin() // a read in flight across the write
	err := c.writeAll(func() error {
		if _, ok := c.get("a"); ok {
			t.Error("a value served while a write of every key runs")
		}
		c.put(c.begin(), "b", 3, 1) // a read during the write
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if v, ok := c.get(k); ok {
			t.Errorf("%s still cached (%d) after the write", k, v)
		}
	}
	c.put(epoch, "a", 1, 1)
	if _, ok := c.get("a"); ok {
		t.Error("a read from before the write put its value back")
	}
	c.put(c.begin(), "a", 4, 1)
	if v, ok := c.get("a"); !ok || v != 4 {
		t.Errorf("a read after the write: %d %v, want 4 cached", v, ok)
	}
}
