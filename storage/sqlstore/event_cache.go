package sqlstore

import (
	"sync"
	"sync/atomic"

	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/storage"
)

// eventCache keeps recently read events by ID. An initial /sync reads
// the state events of every room the user is in (a thousand member
// events for 20 rooms of 50), and each of them again for the next user:
// from memory that is a map lookup instead of a row read and decode.
//
// A stored event changes only when it is redacted (redacted_because) or,
// as an outlier, when it joins the timeline. Outliers are not cached;
// MarkRedacted removes the event after its commit and bumps epoch, and a
// read that began before the bump does not cache what it read (it may
// have read the row before the redaction), so no stale copy can settle.
//
// It is per process: a deployment with several processes on one
// PostgreSQL database would need redactions broadcast between them.
type eventCache struct {
	events *lru.Cache[string, storage.StoredEvent]
	epoch  atomic.Uint64
	// mu makes put's check and add, and changed's bump and removal, one
	// step each: otherwise a redaction could land between a put's check
	// and its add, and the old row would stay cached.
	mu sync.Mutex
}

// eventCacheBytes bounds the cache by the events' JSON size (plus
// eventOverhead each): ~16 MiB holds the state of a few hundred busy rooms.
const (
	eventCacheBytes = 16 << 20
	eventOverhead   = 256
)

func newEventCache() *eventCache {
	return &eventCache{events: lru.New[string, storage.StoredEvent](eventCacheBytes)}
}

// get returns the cached event with ID id.
func (c *eventCache) get(id string) (storage.StoredEvent, bool) {
	return c.events.Get(id)
}

// begin is called before a read whose results may be cached; the epoch it
// returns goes to put.
func (c *eventCache) begin() uint64 { return c.epoch.Load() }

// put caches events read since begin returned epoch, unless a redaction
// committed meanwhile.
func (c *eventCache) put(epoch uint64, events []storage.StoredEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range events {
		if e.Outlier {
			continue
		}
		// A full slice expression: a caller appending to the JSON of a
		// returned copy must not write into the cached array.
		e.JSON = e.JSON[:len(e.JSON):len(e.JSON)]
		if c.epoch.Load() != epoch {
			return
		}
		c.events.Add(e.EventID, e, len(e.JSON)+eventOverhead)
	}
}

// changed forgets the event with ID id after a committed change to it.
func (c *eventCache) changed(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.events.Remove(id)
}
