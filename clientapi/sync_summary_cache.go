package clientapi

import (
	"context"
	"slices"
	"sync"

	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// summaryCache keeps each room's member summary (counts and the heroes
// before excluding the syncing user) for /sync's room summaries: an
// initial sync of many rooms otherwise reads the membership table three
// times per room. It listens to the roomserver's commits and drops a
// room's entry when a commit may have changed its current state.
//
// A read that raced a change must not be cached after the change dropped
// the entry, so each room has a generation, bumped by every drop; a read
// is stored only if the generation it started under is still current.
type summaryCache struct {
	store storage.RoomSummaryStore

	mu      sync.Mutex
	entries *lru.Cache[string, cachedSummary]
	gen     map[string]uint64 // rooms dropped since gen was last cleared
	// base is the generation of the rooms not in gen. Clearing gen moves
	// it to a new value, so reads begun before then are not stored.
	base    uint64
	dropped uint64 // the last generation handed out
}

// cachedSummary holds the heroes of the room read for nobody in
// particular, one more than asked: whoever syncs is dropped from them.
type cachedSummary struct {
	gen           uint64
	joined        int
	invited       int
	heroes        []string // joined and invited, oldest first
	formerHeroes  []string // left and banned, only read when heroes could run out
	formerFetched bool
}

// summaryCacheRooms bounds the rooms cached; an entry is a few hundred
// bytes. maxTrackedGenerations bounds gen the same way.
const (
	summaryCacheRooms     = 10000
	maxTrackedGenerations = 20000
)

var _ roomserver.Listener = (*summaryCache)(nil)

func newSummaryCache(store storage.RoomSummaryStore) *summaryCache {
	return &summaryCache{store: store, entries: lru.New[string, cachedSummary](summaryCacheRooms), gen: map[string]uint64{}}
}

// OnNewEvents implements roomserver.Listener. A state event may change
// the memberships; so may an event joining forks (several prev events),
// whose resolved state can differ. Other events leave the state as it was.
func (c *summaryCache) OnNewEvents(roomID string, events []roomserver.PersistedEvent) {
	for _, ev := range events {
		if ev.Event.StateKey() != nil || len(ev.Event.PrevEventIDs()) != 1 {
			c.drop(roomID)
			return
		}
	}
}

func (c *summaryCache) drop(roomID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries.Remove(roomID)
	if len(c.gen) >= maxTrackedGenerations {
		// Forgetting every room's generation would let a read that
		// started before this be stored; drop the entries too.
		clear(c.gen)
		c.entries.Purge()
		c.dropped++
		c.base = c.dropped
	}
	c.dropped++
	c.gen[roomID] = c.dropped
}

// genLocked is the room's current generation.
func (c *summaryCache) genLocked(roomID string) uint64 {
	if g, ok := c.gen[roomID]; ok {
		return g
	}
	return c.base
}

// summary returns the room's member summary as seen by userID.
func (c *summaryCache) summary(ctx context.Context, roomID, userID string) (storage.MemberSummary, error) {
	c.mu.Lock()
	e, ok := c.entries.Get(roomID)
	gen := c.genLocked(roomID)
	c.mu.Unlock()
	if !ok || e.gen != gen {
		var err error
		if e, err = c.read(ctx, roomID, gen); err != nil {
			return storage.MemberSummary{}, err
		}
	}
	out := storage.MemberSummary{Joined: e.joined, Invited: e.invited, Heroes: withoutUser(e.heroes, userID)}
	if len(out.Heroes) > 0 {
		return out, nil
	}
	former, err := c.former(ctx, roomID, e)
	out.Heroes = withoutUser(former, userID)
	return out, err
}

// read loads a room's summary with no one excluded and caches it.
func (c *summaryCache) read(ctx context.Context, roomID string, gen uint64) (cachedSummary, error) {
	// Excluding a user that cannot exist lists the first maxHeroes+1
	// members, and with them, the former members when there are none.
	sum, err := c.store.RoomMemberSummary(ctx, roomID, "", maxHeroes+1)
	if err != nil {
		return cachedSummary{}, err
	}
	e := cachedSummary{gen: gen, joined: sum.Joined, invited: sum.Invited}
	if sum.Joined+sum.Invited > 0 {
		e.heroes = sum.Heroes
	} else {
		e.formerHeroes, e.formerFetched = sum.Heroes, true
	}
	c.store1(roomID, e)
	return e, nil
}

// former lists the room's former members as heroes, for a user who is
// the only current member (a room they are alone in).
func (c *summaryCache) former(ctx context.Context, roomID string, e cachedSummary) ([]string, error) {
	if e.formerFetched {
		return e.formerHeroes, nil
	}
	// The store lists former members only when no current member is
	// left after the exclusion; the only current member is the one
	// syncing, who is then excluded.
	if len(e.heroes) != 1 {
		return nil, nil
	}
	sum, err := c.store.RoomMemberSummary(ctx, roomID, e.heroes[0], maxHeroes+1)
	if err != nil {
		return nil, err
	}
	e.formerHeroes, e.formerFetched = sum.Heroes, true
	c.store1(roomID, e)
	return e.formerHeroes, nil
}

// store1 caches e unless the room was dropped since e's read began.
func (c *summaryCache) store1(roomID string, e cachedSummary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.genLocked(roomID) == e.gen {
		c.entries.Put(roomID, e)
	}
}

// withoutUser is the first maxHeroes of heroes other than userID.
func withoutUser(heroes []string, userID string) []string {
	out := slices.DeleteFunc(slices.Clone(heroes), func(h string) bool { return h == userID })
	if len(out) > maxHeroes {
		out = out[:maxHeroes]
	}
	return out
}
