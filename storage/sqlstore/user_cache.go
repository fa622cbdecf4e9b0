package sqlstore

import (
	"bytes"
	"slices"
	"sync"

	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/storage"
)

// userCaches keep the small per-user and per-device data that every
// /sync reads again although it rarely changes: an incremental sync woken
// by one message would otherwise spend five of its queries (on PostgreSQL
// five round trips) re-reading them.
//
//   - rooms: RoomsByMembership, by user. Table memberships, written only
//     by PersistEvents (writeMemberships, state_current.go) whenever the
//     room's current state changes an m.room.member slot: joins, leaves,
//     invites, knocks and bans, state resets and state resolution
//     outcomes (SetCurrentState with any change list), de-outliered or
//     outlier member events entering the current state, and the member
//     events of room upgrades. The rooms table (room_id) and state_keys
//     (user_nid) it joins are never rewritten. Forgetting a room
//     (forgotten_rooms) is no part of it.
//   - accountData: AccountData, by (user, room, type), including "none".
//     Table account_data, written only by SetAccountData.
//   - remoteInvites: RemoteInvitesForUser, by user. Table remote_invites,
//     written by AddRemoteInvite, RejectRemoteInvite, DeleteRemoteInvite.
//   - oneTimeKeys: OneTimeKeyCounts, by device. Table
//     e2ee_one_time_keys, written by AddOneTimeKeys, ClaimKeys (the
//     client and the federation claim both call it) and DeleteDeviceKeys.
//   - fallbackKeys: UnusedFallbackKeyTypes, by device. Table
//     e2ee_fallback_keys, written by SetFallbackKeys, ClaimKeys (marking
//     a key used) and DeleteDeviceKeys.
//
// No other statement of this package writes those tables (deleting a
// device or deactivating a user touches devices and tokens; the client
// API then drops the devices' keys through DeleteDeviceKeys), and no
// foreign key cascades into them. A new write to one of them must go through the
// cache's startWrite and endWrite (see userCache).
//
// They are per process: several processes on one PostgreSQL database
// would need each write's invalidation sent to the others (say with
// LISTEN/NOTIFY, the scale path of DESIGN.md), as the store already
// assumes one writing process for the events stream positions
// (stream.go).
type userCaches struct {
	rooms         *userCache[string, map[string][]string]
	accountData   *userCache[accountDataKey, accountDataValue]
	remoteInvites *userCache[string, cachedRemoteInvites]
	oneTimeKeys   *userCache[deviceKey, map[string]int]
	fallbackKeys  *userCache[deviceKey, []string]
	// joinedServers is JoinedServers by room: the federation sender asks
	// it for every batch of events it queues. Written, like the rooms
	// lists, only where memberships change (state_current.go).
	joinedServers *userCache[string, []string]
}

// Each cache is bounded by an estimate of the bytes it holds: a user in
// 20 rooms weighs ~1.5 KiB, a device's key counts ~250 bytes, an absent
// account data type ~250 bytes. A sync reads these for the users syncing
// now; a user gone from the cache costs one query.
const (
	userRoomsCacheBytes     = 8 << 20 // ~5,000 users of 20 rooms, ~30,000 of one
	accountDataCacheBytes   = 8 << 20
	remoteInvitesCacheBytes = 1 << 20
	deviceKeysCacheBytes    = 4 << 20 // each: ~16,000 devices
	joinedServersCacheBytes = 2 << 20 // ~10,000 rooms of a few servers
	// cacheEntryOverhead is what an entry costs beside its key and value
	// (the list element, map slot, item and headers).
	cacheEntryOverhead = 160
	// maxCachedRemoteInvites bounds the pending invites kept per user; a
	// user with more is read from the database each time.
	maxCachedRemoteInvites = 16
)

func newUserCaches() *userCaches {
	return &userCaches{
		rooms:         newUserCache[string, map[string][]string](userRoomsCacheBytes),
		accountData:   newUserCache[accountDataKey, accountDataValue](accountDataCacheBytes),
		remoteInvites: newUserCache[string, cachedRemoteInvites](remoteInvitesCacheBytes),
		oneTimeKeys:   newUserCache[deviceKey, map[string]int](deviceKeysCacheBytes),
		fallbackKeys:  newUserCache[deviceKey, []string](deviceKeysCacheBytes),
		joinedServers: newUserCache[string, []string](joinedServersCacheBytes),
	}
}

// userCache is a bounded LRU cache whose writers announce themselves
// (the caches of user_cache.go, and the event cache of event_cache.go).
//
// A writer calls startWrite with the keys it changes before its
// transaction commits, and endWrite once the transaction has ended,
// whatever its outcome (a failed commit may still have landed). While a
// key has a write in flight, get misses, so a read that begins after a
// commit never sees the value from before it, even before endWrite.
// endWrite drops the keys and bumps epoch; put caches only if no write
// ended since the read's begin, so a read that fetched the old value
// before the commit cannot store it back after the invalidation. The
// check and the store, like the bump and the removal, happen under one
// lock, so neither can fall between the other's two steps.
//
// The epoch is one per cache, not per key: writes to these tables are
// rare next to the reads, a refused put costs only a later miss, and a
// per-key epoch would need a table of its own that must outlive evicted
// entries (an evicted key's epoch still guards reads in flight).
type userCache[K comparable, V any] struct {
	mu      sync.Mutex
	entries *lru.Cache[K, V]
	epoch   uint64
	writing map[K]int // keys with writes in flight, and how many
	// writingAll counts writes in flight that may change any key
	// (writeAll).
	writingAll int
}

func newUserCache[K comparable, V any](maxBytes int) *userCache[K, V] {
	return &userCache[K, V]{entries: lru.New[K, V](maxBytes), writing: map[K]int{}}
}

// get returns the cached value of key. The value is shared: callers
// hand out copies.
func (c *userCache[K, V]) get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writing[key] > 0 || c.writingAll > 0 {
		var zero V
		return zero, false
	}
	return c.entries.Get(key)
}

// begin is called before a read whose result may be cached; the epoch
// it returns goes to put.
func (c *userCache[K, V]) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// put caches value, read since begin returned epoch, unless a write of
// any key ended meanwhile. (A value put while a write of key is in flight
// is not served, and goes at its endWrite.) The caller must not modify
// value afterwards.
func (c *userCache[K, V]) put(epoch uint64, key K, value V, weight int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	c.entries.Add(key, value, weight)
}

// startWrite marks keys as being written; call it before the write's
// transaction commits, and endWrite with the same keys after.
func (c *userCache[K, V]) startWrite(keys ...K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		c.writing[k]++
	}
}

// endWrite forgets keys after their write ended, committed or not.
func (c *userCache[K, V]) endWrite(keys ...K) {
	if len(keys) == 0 {
		return // a write that changed no key (a message's persist)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, k := range keys {
		if c.writing[k]--; c.writing[k] <= 0 {
			delete(c.writing, k)
		}
		c.entries.Remove(k)
	}
}

// write runs a write of key between startWrite and endWrite.
func (c *userCache[K, V]) write(key K, write func() error) error {
	c.startWrite(key)
	defer c.endWrite(key)
	return write()
}

// writeAll runs a write that may change any key's value, for writes
// whose keys are not worth working out: gets miss while it runs, and when
// it ends the cache is emptied and the epoch bumped, as endWrite does for
// its keys.
func (c *userCache[K, V]) writeAll(write func() error) error {
	c.mu.Lock()
	c.writingAll++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.writingAll--
		c.epoch++
		c.entries.Purge()
	}()
	return write()
}

// cloneRooms copies a RoomsByMembership result, lists included.
func cloneRooms(in map[string][]string) map[string][]string {
	out := make(map[string][]string, len(in))
	for m, rooms := range in {
		out[m] = slices.Clone(rooms)
	}
	return out
}

func roomsWeight(userID string, rooms map[string][]string) int {
	n := cacheEntryOverhead + len(userID)
	for m, list := range rooms {
		n += len(m) + 48
		for _, r := range list {
			n += len(r) + 16
		}
	}
	return n
}

type accountDataKey struct{ userID, roomID, dataType string }

// accountDataValue is the content of one account data type, or its
// absence (most users have no m.ignored_user_list, which every sync asks
// for).
type accountDataValue struct {
	content []byte
	found   bool
}

func (k accountDataKey) weight(v accountDataValue) int {
	return cacheEntryOverhead + len(k.userID) + len(k.roomID) + len(k.dataType) + len(v.content)
}

// cachedRemoteInvites is what RemoteInvitesForUser needs of a user's
// rows: the pending invites, and the newest position of the others
// (rejected ones), which a sync from before it must still be told of.
type cachedRemoteInvites struct {
	pending        []storage.RemoteInvite // oldest first
	newestRejected int64                  // stream position of the newest rejected row, 0 if none
	tooMany        bool                   // more pending than maxCachedRemoteInvites: not cached
}

func (c cachedRemoteInvites) weight(userID string) int {
	n := cacheEntryOverhead + len(userID)
	for _, inv := range c.pending {
		n += 160 + len(inv.RoomID) + len(inv.UserID) + len(inv.EventID) + len(inv.RoomVersion) +
			len(inv.Sender) + len(inv.Membership) + len(inv.Event) + len(inv.InviteState)
	}
	return n
}

// cloneRemoteInvite copies an invite, its JSON included.
func cloneRemoteInvite(inv storage.RemoteInvite) storage.RemoteInvite {
	inv.Event = bytes.Clone(inv.Event)
	inv.InviteState = bytes.Clone(inv.InviteState)
	return inv
}

type deviceKey struct{ userID, deviceID string }

func (k deviceKey) countsWeight(counts map[string]int) int {
	n := cacheEntryOverhead + len(k.userID) + len(k.deviceID)
	for alg := range counts {
		n += len(alg) + 32
	}
	return n
}

func (k deviceKey) typesWeight(types []string) int {
	n := cacheEntryOverhead + len(k.userID) + len(k.deviceID)
	for _, t := range types {
		n += len(t) + 16
	}
	return n
}
