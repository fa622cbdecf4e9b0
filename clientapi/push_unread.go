package clientapi

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/storage"
)

// unreadTracker keeps users' unread notification counts. The counts must
// be in the same /sync as the event that changed them (push module,
// "Server behaviour"), and writing push notifications in a transaction of
// their own per event would double the database's commits on the send
// path. So the counts of users whose syncs are active live in memory,
// updated as events land and receipts move, and the database is written
// behind, in batches (flushInterval). A user's counts are loaded from the
// database (their joined and invited rooms) the first time they are
// needed, without waiting for the writes behind: the operations not yet
// written (pending or being written) that concern the user are replayed
// on what was read, and replaying one that did land is harmless: a
// notification is added once by stream position, and what is read is
// decided by read marks, which only grow, so applying a mark again, or a
// notification after a mark above it, changes nothing. Waiting for the
// flush instead made every first /sync after a burst of messages queue
// behind the whole backlog (seconds, in `warbler bench`).
//
// One operation is one event's notification of all the users it notifies
// (stored as one row), or one user's read mark.
//
// What a crash can lose: the push notifications and marks of the last
// flushInterval, never an event. The counts are then low (or high) by
// those.
type unreadTracker struct {
	store storage.PushStore
	// roomsOf lists the rooms whose unread notifications a load reads.
	roomsOf func(ctx context.Context, userID string) ([]string, error)

	mu      sync.Mutex
	users   *lru.Cache[string, *userUnread]
	pending []pushOp
	// inflight holds the operations a flush took from pending and has not
	// committed yet: a load must replay them too.
	inflight []pushOp
	kick     chan struct{}

	flushMu sync.Mutex // one flush at a time, in order
}

const (
	unreadCachedUsers = 20000
	flushInterval     = 100 * time.Millisecond
	flushBatch        = 1000 // pending operations that start a flush early
	maxFlushWrites    = 5000 // operations written in one transaction
	// A load looks at the newest notifications above the user's mark in
	// each room, unreadLoadScan over all rooms, at least unreadMinScan
	// and at most unreadMaxScan in each; older unread ones are not
	// counted.
	unreadLoadScan = 50000
	unreadMinScan  = 100
	unreadMaxScan  = 1000
)

// pushOp is one pending write: a new notification, or a receipt's mark.
type pushOp struct {
	note *storage.PushNotification
	mark *unreadMark
}

// concerns reports whether op changes userID's unread notifications.
func (op pushOp) concerns(userID string) bool {
	if op.mark != nil {
		return op.mark.userID == userID
	}
	return recipientIndex(op.note, userID) >= 0
}

func recipientIndex(n *storage.PushNotification, userID string) int {
	return slices.IndexFunc(n.Recipients, func(r storage.PushRecipient) bool { return r.UserID == userID })
}

type unreadMark struct {
	userID, roomID, threadID string // threadID "" = every thread
	upTo                     int64
}

// userUnread is one user's unread notifications, by room and thread, each
// list in stream order, and their read marks. While it is loading, the
// operations for the user are queued and byThread is not read; ready is
// closed when loading ends, err then says whether it failed. All fields
// but userID and ready are guarded by unreadTracker.mu.
type userUnread struct {
	userID   string
	byThread map[roomThread][]unreadEntry
	// marks are the positions read up to, by room and thread ("" = every
	// thread); a thread's mark at or below its room's "" mark is dropped.
	marks   map[roomThread]int64
	loading bool
	queued  []pushOp
	ready   chan struct{}
	err     error
}

// apply applies op now, or queues it while the user is loading.
func (u *userUnread) apply(op pushOp) {
	switch {
	case u.loading:
		u.queued = append(u.queued, op)
	case op.note != nil:
		if i := recipientIndex(op.note, u.userID); i >= 0 {
			u.addEntry(op.note.RoomID, op.note.ThreadID, op.note.StreamPos, op.note.Recipients[i].Highlight)
		}
	case op.mark != nil:
		u.mark(op.mark.roomID, op.mark.threadID, op.mark.upTo)
	}
}

type roomThread struct{ roomID, threadID string }

type unreadEntry struct {
	pos       int64
	highlight bool
}

func newUnreadTracker(store storage.PushStore, roomsOf func(ctx context.Context, userID string) ([]string, error)) *unreadTracker {
	return &unreadTracker{store: store, roomsOf: roomsOf, users: lru.New[string, *userUnread](unreadCachedUsers), kick: make(chan struct{}, 1)}
}

// run flushes pending writes every flushInterval until ctx ends, then
// once more.
func (t *unreadTracker) run(ctx context.Context) {
	flushCtx := context.WithoutCancel(ctx) // a flush is bounded; let it finish
	tick := time.NewTicker(flushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.flushLogged(flushCtx)
			return
		case <-tick.C:
			t.flushLogged(flushCtx)
		case <-t.kick:
			t.flushLogged(flushCtx)
		}
	}
}

func (t *unreadTracker) flushLogged(ctx context.Context) {
	if err := t.flush(ctx); err != nil {
		slog.Warn("push: writing push notifications failed; will retry", "err", err)
	}
}

// add records notifications (in memory now, in the database soon). It
// keeps them: callers must not change them afterwards.
func (t *unreadTracker) add(notes []storage.PushNotification) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range notes {
		n := &notes[i]
		op := pushOp{note: n}
		t.pending = append(t.pending, op)
		for _, r := range n.Recipients {
			if u, ok := t.users.Get(r.UserID); ok {
				if u.loading {
					u.queued = append(u.queued, op)
				} else {
					u.addEntry(n.RoomID, n.ThreadID, n.StreamPos, r.Highlight)
				}
			}
		}
	}
	if len(t.pending) >= flushBatch {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

// addEntry adds an unread entry in stream order, once (a replayed
// notification may already have been read from the database), unless a
// mark says it is read.
func (u *userUnread) addEntry(roomID, threadID string, pos int64, highlight bool) {
	if pos <= u.marks[roomThread{roomID, ""}] || pos <= u.marks[roomThread{roomID, threadID}] {
		return
	}
	key := roomThread{roomID, threadID}
	entries := u.byThread[key]
	i, found := slices.BinarySearchFunc(entries, pos, func(e unreadEntry, pos int64) int { return cmp.Compare(e.pos, pos) })
	if !found {
		u.byThread[key] = slices.Insert(entries, i, unreadEntry{pos, highlight})
	}
}

// markRead clears a user's notifications in a room at or below upTo, in
// one thread or ("") all.
func (t *unreadTracker) markRead(userID, roomID, threadID string, upTo int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := pushOp{mark: &unreadMark{userID, roomID, threadID, upTo}}
	t.pending = append(t.pending, op)
	if u, ok := t.users.Get(userID); ok {
		u.apply(op)
	}
}

// mark raises the mark of roomID's thread (or, "", of all its threads)
// to upTo and drops the entries it covers.
func (u *userUnread) mark(roomID, threadID string, upTo int64) {
	key := roomThread{roomID, threadID}
	if upTo <= u.marks[key] {
		return
	}
	u.marks[key] = upTo
	if threadID == "" {
		for k, m := range u.marks {
			if k.roomID == roomID && k.threadID != "" && m <= upTo {
				delete(u.marks, k)
			}
		}
	}
	for k, entries := range u.byThread {
		if k.roomID != roomID || threadID != "" && k.threadID != threadID {
			continue
		}
		entries = slices.DeleteFunc(entries, func(e unreadEntry) bool { return e.pos <= upTo })
		if len(entries) == 0 {
			delete(u.byThread, k)
		} else {
			u.byThread[k] = entries
		}
	}
}

// flush writes the pending operations, in order, in transactions of at
// most maxFlushWrites.
func (t *unreadTracker) flush(ctx context.Context) error {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	return t.flushLocked(ctx)
}

func (t *unreadTracker) flushLocked(ctx context.Context) error {
	t.mu.Lock()
	ops := t.pending
	t.pending, t.inflight = nil, ops
	t.mu.Unlock()
	for len(ops) > 0 {
		n, err := t.writeOps(ctx, ops)
		if bad := refusedWrite(err, n); bad >= 0 {
			// Retrying would refuse every later flush too, for ever, while
			// pending grew: the one write goes (its count stays in memory).
			logDroppedPushOp(ops[bad], err)
			ops = append(ops[:bad:bad], ops[bad+1:]...) // a copy: loads may be reading inflight
			t.mu.Lock()
			t.inflight = ops
			t.mu.Unlock()
			continue
		}
		t.mu.Lock()
		if err != nil {
			t.pending = append(ops, t.pending...) // retried next time, in order
			t.inflight = nil
			t.mu.Unlock()
			return err
		}
		ops = ops[n:]
		t.inflight = ops
		t.mu.Unlock()
	}
	return nil
}

// refusedWrite is the index of the write err says can never be written,
// among the n a writeOps call tried; -1 if err is not that.
func refusedWrite(err error, n int) int {
	var bad *storage.BadPushWriteError
	if errors.As(err, &bad) && bad.Index >= 0 && bad.Index < n {
		return bad.Index
	}
	return -1
}

func logDroppedPushOp(op pushOp, err error) {
	if op.note != nil {
		slog.Error("push: dropping a notification the database refuses", "room", op.note.RoomID, "event", op.note.EventID, "err", err)
		return
	}
	slog.Error("push: dropping a read mark the database refuses", "room", op.mark.roomID, "err", err)
}

// writeOps writes the leading operations, at most maxFlushWrites of them,
// in one transaction, and says how many it wrote.
func (t *unreadTracker) writeOps(ctx context.Context, ops []pushOp) (int, error) {
	n := min(len(ops), maxFlushWrites)
	writes := make([]storage.PushWrite, n)
	for i, op := range ops[:n] {
		if m := op.mark; m != nil {
			writes[i].Mark = &storage.PushMark{UserID: m.userID, RoomID: m.roomID, ThreadID: m.threadID, UpTo: m.upTo}
		} else {
			writes[i].Notification = op.note
		}
	}
	return n, t.store.WritePush(ctx, writes)
}

// counts returns the user's unread counts by room and thread.
func (t *unreadTracker) counts(ctx context.Context, userID string) (map[roomThread]storage.UnreadCount, error) {
	u, err := t.load(ctx, userID)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[roomThread]storage.UnreadCount, len(u.byThread))
	for key, entries := range u.byThread {
		c := storage.UnreadCount{RoomID: key.roomID, ThreadID: key.threadID, Notify: len(entries)}
		for _, e := range entries {
			if e.highlight {
				c.Highlight++
			}
		}
		out[key] = c
	}
	return out, nil
}

// load returns the user's in-memory unread notifications, reading them
// from the database if they are not loaded (see unreadTracker for why the
// writes behind are not waited for).
func (t *unreadTracker) load(ctx context.Context, userID string) (*userUnread, error) {
	for {
		t.mu.Lock()
		u, ok := t.users.Get(userID)
		if !ok {
			u = t.startLoadLocked(userID)
			t.mu.Unlock()
			return u, t.finishLoad(ctx, u)
		}
		t.mu.Unlock()
		select {
		case <-u.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		t.mu.Lock()
		err := u.err
		t.mu.Unlock()
		if err == nil {
			return u, nil
		}
		// Another request's load failed (its context may have ended, not
		// ours): try again.
	}
}

// startLoadLocked caches a loading entry for userID, queueing the
// operations concerning the user that may not be in the database yet.
// From now on add and markRead queue theirs behind them, in order.
func (t *unreadTracker) startLoadLocked(userID string) *userUnread {
	u := &userUnread{userID: userID, byThread: map[roomThread][]unreadEntry{}, marks: map[roomThread]int64{},
		loading: true, ready: make(chan struct{})}
	for _, ops := range [][]pushOp{t.inflight, t.pending} {
		for _, op := range ops {
			if op.concerns(userID) {
				u.queued = append(u.queued, op)
			}
		}
	}
	t.users.Put(userID, u)
	return u
}

// finishLoad reads the user's marks and unread notifications, then
// replays the queued operations on them. The database holds every
// operation before the queued ones and maybe some of them, which
// replaying in order leaves as they were.
func (t *unreadTracker) finishLoad(ctx context.Context, u *userUnread) error {
	var read storage.UnreadPush
	rooms, err := t.roomsOf(ctx, u.userID)
	if err == nil {
		scan := min(max(unreadLoadScan/max(len(rooms), 1), unreadMinScan), unreadMaxScan)
		read, err = t.store.UnreadPushActions(ctx, u.userID, rooms, scan)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	defer close(u.ready)
	if err != nil {
		u.err = err
		if cur, ok := t.users.Get(u.userID); ok && cur == u {
			t.users.Remove(u.userID)
		}
		return err
	}
	for _, m := range read.Marks {
		u.mark(m.RoomID, m.ThreadID, m.UpTo)
	}
	for i := len(read.Actions) - 1; i >= 0; i-- { // each room's oldest first
		a := read.Actions[i]
		u.addEntry(a.RoomID, a.ThreadID, a.StreamPos, a.Highlight)
	}
	u.loading = false
	for _, op := range u.queued {
		u.apply(op)
	}
	u.queued = nil
	return nil
}
