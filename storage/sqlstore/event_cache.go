package sqlstore

import (
	"github.com/warbler-im/warbler/storage"
)

// eventCache keeps recently read events by ID. An initial /sync reads
// the state events of every room the user is in (a thousand member
// events for 20 rooms of 50), and each of them again for the next user:
// from memory that is a map lookup instead of a row read and decode.
//
// A stored event changes only when it is redacted (redacted_because) or,
// as an outlier, when it joins the timeline. Outliers are not cached;
// MarkRedacted runs as a write of the event's key, so the cache's
// protocol (userCache, user_cache.go) keeps a read racing the redaction
// from caching the old row.
//
// It is per process: a deployment with several processes on one
// PostgreSQL database would need redactions broadcast between them.
type eventCache struct {
	*userCache[string, storage.StoredEvent]
}

// eventCacheBytes bounds the cache by the events' JSON size (plus
// eventOverhead each): ~16 MiB holds the state of a few hundred busy rooms.
const (
	eventCacheBytes = 16 << 20
	eventOverhead   = 256
)

func newEventCache() eventCache {
	return eventCache{newUserCache[string, storage.StoredEvent](eventCacheBytes)}
}

// putEvents caches events read since begin returned epoch, leaving out
// outliers.
func (c eventCache) putEvents(epoch uint64, events []storage.StoredEvent) {
	for _, e := range events {
		if e.Outlier {
			continue
		}
		// A full slice expression: a caller appending to the JSON of a
		// returned copy must not write into the cached array.
		e.JSON = e.JSON[:len(e.JSON):len(e.JSON)]
		c.put(epoch, e.EventID, e, len(e.JSON)+eventOverhead)
	}
}
