package sqlstore

import (
	"container/list"
	"sync"

	"github.com/warbler-im/warbler/storage"
)

// recentEvents keeps each active room's newest events in memory, so that
// the incremental /sync a new event wakes reads its timeline without a
// query (two per sync: which rooms moved, and the moved room's events).
// On PostgreSQL those are round trips to a server competing for the same
// CPUs, and they were most of the delay between a message's send being
// answered and another member's /sync showing it.
//
// What makes a read from memory exact is completeness: a room's ring holds
// every event of the room with a stream position above its complete mark,
// and a room without a ring has no event above floor. A read for (since,
// upTo] is served only if since is at or above that mark; else it goes to
// the database. Only PersistEvents gives events stream positions, and it
// brackets its transaction with begin and end. On SQLite a position is
// visible once committed, before end appends its event: while a persist
// of a room is between the two, the room is not served from memory, so a
// reader that saw the new position cannot miss an event not yet
// appended. On PostgreSQL positions become visible only after end (the
// stream tracker's finish, stream.go), so readers need not wait for
// rooms being written (visibleAfterEnd): with persists taking
// milliseconds there, a busy room was being written for much of the time. Backfilled events (negative positions) and outliers never
// reach /sync and are not kept.
//
// The events' JSON is immutable but for redaction: MarkRedacted calls
// redacted, which empties every ring (redactions are rare).
//
// It also knows which kept events no relation points at, so that bundling
// aggregations into a /sync (RelationSummaries) skips the query for them:
// an event inserted (not de-outliered) when no stored relation pointed at
// it, and no relation of its room pointing at it persisted since. A
// relation only counts in its parent's room. Persists of one room that
// overlap (the roomserver serialises them; a store cannot assume it) make
// the events they append count as related.
//
// It is per process: several processes writing one PostgreSQL database
// (the scale path) would each see only their own writes, so it must then
// be turned off (as must the stream tracker, stream.go).
type recentEvents struct {
	mu    sync.Mutex
	rooms map[string]*roomRing
	order *list.List // of *roomRing; front = most recently used
	bytes int
	// floor: a room without a ring has no event above it. It starts at
	// the stream's end when the database is opened and rises as rings are
	// evicted or emptied.
	floor int64
	high  int64 // the highest position appended
	// visibleAfterEnd: positions become visible to readers only after
	// end appended their events (PostgreSQL's stream tracker).
	visibleAfterEnd bool
}

type roomRing struct {
	roomID   string
	events   []recentEvent // ascending stream positions
	complete int64         // every event above it is in events
	writing  int           // persists between begin and end
	ended    uint64        // persists ended, to tell overlapping ones
	bytes    int
	elem     *list.Element
}

// recentEvent is a kept event and whether it is known relation-free.
type recentEvent struct {
	storage.StoredEvent
	relationFree bool
}

// Bounds: recentPerRoom covers a sync's default timeline (and a burst
// between two polls); recentBytes bounds the whole (JSON plus
// eventOverhead each).
const (
	recentPerRoom = 32
	recentBytes   = 8 << 20
)

func newRecentEvents(floor int64, visibleAfterEnd bool) *recentEvents {
	return &recentEvents{rooms: map[string]*roomRing{}, order: list.New(), floor: floor, high: floor,
		visibleAfterEnd: visibleAfterEnd}
}

// ring returns roomID's ring, creating an empty one complete from floor.
func (r *recentEvents) ring(roomID string) *roomRing {
	rg := r.rooms[roomID]
	if rg == nil {
		rg = &roomRing{roomID: roomID, complete: r.floor}
		rg.elem = r.order.PushFront(rg)
		r.rooms[roomID] = rg
	}
	r.order.MoveToFront(rg.elem)
	return rg
}

// begin marks a persist of roomID as started: until its end, reads of the
// room go to the database. Its result goes to end.
func (r *recentEvents) begin(roomID string) (began uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.ring(roomID)
	rg.writing++
	return rg.ended
}

// end marks the persist as over and, if it committed, appends the events
// it gave positions (ascending; nil if none or if it failed) and notes
// that relations now point at relatedTo.
func (r *recentEvents) end(roomID string, began uint64, events []recentEvent, relatedTo []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.ring(roomID)
	rg.writing--
	// Another persist of the room ran beside this one: its relations may
	// point at this one's events without either having seen the other.
	overlapped := rg.writing > 0 || rg.ended != began
	rg.ended++
	for _, e := range events {
		e.relationFree = e.relationFree && !overlapped
		if e.StreamPos <= rg.complete || len(rg.events) > 0 && e.StreamPos <= rg.events[len(rg.events)-1].StreamPos {
			continue // already known complete without it: keep the order
		}
		e.JSON = e.JSON[:len(e.JSON):len(e.JSON)]
		rg.events = append(rg.events, e)
		rg.bytes += len(e.JSON) + eventOverhead
		r.bytes += len(e.JSON) + eventOverhead
		r.high = max(r.high, e.StreamPos)
	}
	for _, parent := range relatedTo {
		for i := range rg.events {
			if rg.events[i].EventID == parent {
				rg.events[i].relationFree = false
			}
		}
	}
	for len(rg.events) > recentPerRoom {
		r.dropOldest(rg)
	}
	r.evict()
}

// relationFree reports whether the event eventID of roomID is kept and
// known to have no relation pointing at it.
func (r *recentEvents) relationFree(roomID, eventID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rooms[roomID]
	if rg == nil {
		return false
	}
	for i := len(rg.events) - 1; i >= 0; i-- {
		if rg.events[i].EventID == eventID {
			return rg.events[i].relationFree
		}
	}
	return false
}

func (r *recentEvents) dropOldest(rg *roomRing) {
	old := rg.events[0]
	rg.events = rg.events[1:]
	rg.complete = old.StreamPos
	rg.bytes -= len(old.JSON) + eventOverhead
	r.bytes -= len(old.JSON) + eventOverhead
}

// evict drops the least recently used idle rings while over recentBytes.
func (r *recentEvents) evict() {
	for el := r.order.Back(); el != nil && r.bytes > recentBytes; {
		rg := el.Value.(*roomRing)
		el = el.Prev()
		if rg.writing > 0 {
			continue
		}
		r.floor = max(r.floor, rg.complete, rg.latest())
		r.bytes -= rg.bytes
		r.order.Remove(rg.elem)
		delete(r.rooms, rg.roomID)
	}
}

func (rg *roomRing) latest() int64 {
	if len(rg.events) == 0 {
		return rg.complete
	}
	return rg.events[len(rg.events)-1].StreamPos
}

// redacted forgets every event: one may show an event whose redaction
// just committed. Rooms being written keep their rings, emptied.
func (r *recentEvents) redacted() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.floor = max(r.floor, r.high)
	for _, rg := range r.rooms {
		rg.complete = max(rg.complete, r.high)
		rg.events, rg.bytes = nil, 0
		if rg.writing == 0 {
			r.order.Remove(rg.elem)
			delete(r.rooms, rg.roomID)
		}
	}
	r.bytes = 0
}

// timeline answers one room's part of RoomEventsSince from memory: its
// visible events in (since, upTo], newest first, at most limit+1 (one
// more than asked shows the timeline is limited). ok is false when memory
// cannot answer exactly; then the database must.
func (r *recentEvents) timeline(roomID string, since, upTo int64, limit int) (events []storage.StoredEvent, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rooms[roomID]
	if rg == nil {
		return nil, since >= r.floor
	}
	if rg.writing > 0 && !r.visibleAfterEnd || since < rg.complete {
		return nil, false
	}
	r.order.MoveToFront(rg.elem)
	for i := len(rg.events) - 1; i >= 0 && len(events) <= limit; i-- {
		e := rg.events[i]
		if e.StreamPos <= since {
			break
		}
		if e.StreamPos <= upTo && e.Rejected == "" && !e.SoftFailed {
			events = append(events, e.StoredEvent)
		}
	}
	return events, true
}
