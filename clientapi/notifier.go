package clientapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/warbler-im/warbler/roomserver"
)

// The notifier wakes long-polling /sync requests when something lands that
// concerns them (DESIGN.md principle 6): it listens to the roomserver's
// commits and to the other sync streams' notices, and never polls the
// database. A waiter names its user and the rooms it follows; a notice
// about a room wakes the waiters following it, and a notice about a user
// (a member event's state_key, a to-device message's recipient) wakes that
// user's waiters, so a sync learns of invites and joins to rooms it did not
// follow yet.

// Notifier limits. A waiter is one open long-poll; clients hold one per
// device, so a user with more than maxWaitersPerUser is misbehaving.
const (
	maxWaiters        = 20000
	maxWaitersPerUser = 50
	// noticeRingSize is how many recent notices are kept so a waiter that
	// registers just after a commit still sees it (see wait).
	noticeRingSize = 1024
)

// errTooManyWaiters: the waiter bounds are reached; the client should
// retry later.
var errTooManyWaiters = errors.New("clientapi: too many /sync waiters")

// notice is what the notifier remembers of one change to a stream.
type notice struct {
	stream streamID
	pos    int64  // the stream's position after the change
	roomID string // the room it concerns, or ""
	user   string // the user it concerns (a member event's state_key), or ""
}

type waiter struct {
	userID string
	rooms  map[string]struct{}
	woken  chan struct{} // closed once, by wake
	done   bool
}

func (w *waiter) cares(n notice) bool {
	if n.user != "" && n.user == w.userID {
		return true
	}
	_, ok := w.rooms[n.roomID]
	return ok
}

type notifier struct {
	mu     sync.Mutex
	latest [numStreams + 1]int64 // highest position seen, by stream
	byRoom map[string]map[*waiter]struct{}
	byUser map[string]map[*waiter]struct{}
	count  int
	recent [noticeRingSize]notice
	next   int // index in recent of the next notice
	// evicted is the highest position pushed out of recent, by stream.
	evicted [numStreams + 1]int64
	closed  bool
}

var _ roomserver.Listener = (*notifier)(nil)

func newNotifier() *notifier {
	return &notifier{byRoom: map[string]map[*waiter]struct{}{}, byUser: map[string]map[*waiter]struct{}{}}
}

// OnNewEvents implements roomserver.Listener. Only live, accepted timeline
// events concern sync: rejected and soft-failed ones are never shown, and
// outliers and backfilled events have no place in the stream.
func (n *notifier) OnNewEvents(roomID string, events []roomserver.PersistedEvent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ev := range events {
		if ev.Existed || ev.Stream <= 0 || ev.Rejected != "" || ev.SoftFailed {
			continue
		}
		nt := notice{stream: streamEvents, pos: ev.Stream, roomID: roomID}
		if ev.Event.Type() == "m.room.member" && ev.Event.StateKey() != nil {
			nt.user = *ev.Event.StateKey()
		}
		n.record(nt)
		n.wakeFor(nt)
	}
}

// notify records a change to a stream other than room events and wakes
// the waiters it concerns.
func (n *notifier) notify(nt notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.record(nt)
	n.wakeFor(nt)
}

func (n *notifier) record(nt notice) {
	n.latest[nt.stream] = max(n.latest[nt.stream], nt.pos)
	if old := n.recent[n.next]; old.pos > 0 {
		n.evicted[old.stream] = max(n.evicted[old.stream], old.pos)
	}
	n.recent[n.next] = nt
	n.next = (n.next + 1) % noticeRingSize
}

func (n *notifier) wakeFor(nt notice) {
	if nt.roomID != "" {
		for w := range n.byRoom[nt.roomID] {
			n.wakeLocked(w)
		}
	}
	if nt.user != "" {
		for w := range n.byUser[nt.user] {
			n.wakeLocked(w)
		}
	}
}

// Latest is the highest room events position the notifier has seen.
func (n *notifier) Latest() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.latest[streamEvents]
}

// wait blocks until a change after since concerns userID or one of rooms
// (true), or until timeout, ctx's end or Close (false). since holds the
// stream positions the caller has already answered up to: changes made
// after them but before wait was called are found in the recent notices,
// so none slips between the caller's read and its registration.
func (n *notifier) wait(ctx context.Context, userID string, rooms []string, since syncToken, timeout time.Duration) (bool, error) {
	w := &waiter{userID: userID, rooms: make(map[string]struct{}, len(rooms)), woken: make(chan struct{})}
	for _, r := range rooms {
		w.rooms[r] = struct{}{}
	}
	registered, already, err := n.register(w, since)
	if !registered {
		return already, err
	}
	defer n.unregister(w)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-w.woken:
		n.mu.Lock()
		defer n.mu.Unlock()
		return !n.closed, nil
	case <-timer.C:
		return false, nil
	case <-ctx.Done():
		return false, nil
	}
}

// register adds w, unless the notifier is closed, something after since
// already concerns w (already), or the bounds are reached.
func (n *notifier) register(w *waiter, since syncToken) (registered, already bool, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false, false, nil
	}
	if n.missedSince(w, since) {
		return false, true, nil
	}
	if n.count >= maxWaiters || len(n.byUser[w.userID]) >= maxWaitersPerUser {
		return false, false, errTooManyWaiters
	}
	n.count++
	addWaiter(n.byUser, w.userID, w)
	for r := range w.rooms {
		addWaiter(n.byRoom, r, w)
	}
	return true, false, nil
}

// missedSince reports whether a notice after since concerns w. When the
// ring no longer reaches back to since on a stream that moved, it cannot
// tell, and says yes: the caller then reads once more.
func (n *notifier) missedSince(w *waiter, since syncToken) bool {
	moved := false
	for id := range n.latest {
		pos := since.pos(streamID(id))
		if n.latest[id] <= pos {
			continue
		}
		if n.evicted[id] > pos {
			return true
		}
		moved = true
	}
	if !moved {
		return false
	}
	for _, nt := range n.recent {
		if nt.pos > since.pos(nt.stream) && w.cares(nt) {
			return true
		}
	}
	return false
}

func (n *notifier) unregister(w *waiter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.count--
	removeWaiter(n.byUser, w.userID, w)
	for r := range w.rooms {
		removeWaiter(n.byRoom, r, w)
	}
}

func (n *notifier) wakeLocked(w *waiter) {
	if !w.done {
		w.done = true
		close(w.woken)
	}
}

// Close wakes every waiter and makes later waits return at once: the
// server is shutting down and long-polls must not hold it up.
func (n *notifier) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	for _, ws := range n.byUser {
		for w := range ws {
			n.wakeLocked(w)
		}
	}
}

func addWaiter(index map[string]map[*waiter]struct{}, key string, w *waiter) {
	set := index[key]
	if set == nil {
		set = map[*waiter]struct{}{}
		index[key] = set
	}
	set[w] = struct{}{}
}

func removeWaiter(index map[string]map[*waiter]struct{}, key string, w *waiter) {
	set := index[key]
	delete(set, w)
	if len(set) == 0 {
		delete(index, key)
	}
}
