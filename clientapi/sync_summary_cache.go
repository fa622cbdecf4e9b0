package clientapi

import (
	"context"
	"slices"
	"sync"

	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// summaryCache keeps what the membership table says of each room: the
// member summary (counts and the heroes before excluding the syncing
// user) for /sync's room summaries, which an initial sync otherwise reads
// three times per room, and the joined members, which the push rules read
// for every new event and presence for every joined room of an initial
// sync. It listens to the roomserver's commits and drops a room's entries
// when a commit may have changed its current state; it is registered
// before the other listeners of the API, so they read the new members.
//
// A read that raced a change must not be cached after the change dropped
// the entry, so each room has a generation, bumped by every drop; a read
// is stored only if the generation it started under is still current.
type summaryCache struct {
	store   storage.RoomSummaryStore
	members func(ctx context.Context, roomID string) ([]string, error)

	mu      sync.Mutex
	entries *lru.Cache[string, cachedSummary]
	joined  *lru.Cache[string, cachedMembers]
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

// cachedMembers is a room's joined members, sorted, read under gen.
type cachedMembers struct {
	gen     uint64
	members []string
}

// summaryCacheRooms bounds the rooms whose summary is cached (an entry is
// a few hundred bytes), cachedMemberIDs the user IDs held for the joined
// members of all rooms, and maxTrackedGenerations the rooms whose
// generation is remembered.
const (
	summaryCacheRooms     = 10000
	cachedMemberIDs       = 200000
	maxTrackedGenerations = 20000
)

var _ roomserver.Listener = (*summaryCache)(nil)

// newSummaryCache reads summaries from store and joined members with
// members (the roomserver's JoinedUsers).
func newSummaryCache(store storage.RoomSummaryStore, members func(ctx context.Context, roomID string) ([]string, error)) *summaryCache {
	return &summaryCache{store: store, members: members, entries: lru.New[string, cachedSummary](summaryCacheRooms),
		joined: lru.New[string, cachedMembers](cachedMemberIDs), gen: map[string]uint64{}}
}

// joinedMembers returns the room's joined members, sorted. The slice is
// shared: callers must not change it.
func (c *summaryCache) joinedMembers(ctx context.Context, roomID string) ([]string, error) {
	c.mu.Lock()
	e, ok := c.joined.Get(roomID)
	gen := c.genLocked(roomID)
	c.mu.Unlock()
	if ok && e.gen == gen {
		return e.members, nil
	}
	members, err := c.members(ctx, roomID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.genLocked(roomID) == gen {
		c.joined.Add(roomID, cachedMembers{gen: gen, members: members}, 1+len(members))
	}
	return members, nil
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
	c.joined.Remove(roomID)
	if len(c.gen) >= maxTrackedGenerations {
		// Forgetting every room's generation would let a read that
		// started before this be stored; drop the entries too.
		clear(c.gen)
		c.entries.Purge()
		c.joined.Purge()
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

// joinedUserIDs returns the room's joined members from the cache when
// there is one (the slice is shared: callers must not change it).
func (a *API) joinedUserIDs(ctx context.Context, roomID string) ([]string, error) {
	if a.roomMembers != nil {
		return a.roomMembers.joinedMembers(ctx, roomID)
	}
	return a.Store.RoomMembers(ctx, roomID, storage.MembershipJoin)
}
