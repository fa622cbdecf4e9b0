package clientapi

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/storage"
)

// unreadTracker keeps users' unread notification counts. The counts must
// be in the same /sync as the event that changed them (push module,
// "Server behaviour"), and writing push actions in a transaction of their
// own per event would double the database's commits on the send path. So
// the counts of users whose syncs are active live in memory, updated as
// events land and receipts move, and the database is written behind, in
// batches (flushInterval). A user's counts are loaded from the database
// the first time they are needed, without waiting for the writes behind:
// the operations not yet written (pending or being written) are replayed
// on what was read, and replaying one that did land is harmless (an action
// is added once by stream position; a mark clears the same entries again).
// Waiting for the flush instead made every first /sync after a burst of
// messages queue behind the whole backlog (seconds, in `warbler bench`).
//
// What a crash can lose: the push actions of the last flushInterval,
// never an event. The counts are then low by those notifications.
type unreadTracker struct {
	store storage.PushStore

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
	// maxUnreadLoaded bounds how many unread actions of one user are
	// loaded into memory; older ones still count in the database.
	maxUnreadLoaded = 5000
)

// pushOp is one pending write: a new action, or a receipt's mark.
type pushOp struct {
	action *storage.PushAction
	mark   *unreadMark
}

type unreadMark struct {
	userID, roomID, threadID string // threadID "" = every thread
	upTo                     int64
}

// userUnread is one user's unread actions, by room and thread, each list
// in stream order. While it is loading, the operations for the user are
// queued and byThread is not read; ready is closed when loading ends, err
// then says whether it failed. All fields but ready are guarded by
// unreadTracker.mu.
type userUnread struct {
	byThread map[roomThread][]unreadEntry
	loading  bool
	queued   []pushOp
	ready    chan struct{}
	err      error
}

// apply applies op now, or queues it while the user is loading.
func (u *userUnread) apply(op pushOp) {
	switch {
	case u.loading:
		u.queued = append(u.queued, op)
	case op.action != nil:
		u.addAction(op.action)
	case op.mark != nil:
		u.mark(op.mark)
	}
}

type roomThread struct{ roomID, threadID string }

type unreadEntry struct {
	pos       int64
	highlight bool
}

func newUnreadTracker(store storage.PushStore) *unreadTracker {
	return &unreadTracker{store: store, users: lru.New[string, *userUnread](unreadCachedUsers), kick: make(chan struct{}, 1)}
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
		slog.Warn("push: writing push actions failed; will retry", "err", err)
	}
}

// add records notifying actions (in memory now, in the database soon).
func (t *unreadTracker) add(actions []storage.PushAction) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range actions {
		a := actions[i]
		op := pushOp{action: &a}
		t.pending = append(t.pending, op)
		if u, ok := t.users.Get(a.UserID); ok {
			u.apply(op)
		}
	}
	if len(t.pending) >= flushBatch {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

// addAction adds a's entry in stream order, once: a replayed action may
// already have been read from the database.
func (u *userUnread) addAction(a *storage.PushAction) {
	key := roomThread{a.RoomID, a.ThreadID}
	entries := u.byThread[key]
	i, found := slices.BinarySearchFunc(entries, a.StreamPos, func(e unreadEntry, pos int64) int { return cmp.Compare(e.pos, pos) })
	if !found {
		u.byThread[key] = slices.Insert(entries, i, unreadEntry{a.StreamPos, a.Highlight})
	}
}

// markRead clears a user's actions in a room at or below upTo, in one
// thread or ("") all.
func (t *unreadTracker) markRead(userID, roomID, threadID string, upTo int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	op := pushOp{mark: &unreadMark{userID, roomID, threadID, upTo}}
	t.pending = append(t.pending, op)
	if u, ok := t.users.Get(userID); ok {
		u.apply(op)
	}
}

func (u *userUnread) mark(m *unreadMark) {
	for key, entries := range u.byThread {
		if key.roomID != m.roomID || m.threadID != "" && key.threadID != m.threadID {
			continue
		}
		entries = slices.DeleteFunc(entries, func(e unreadEntry) bool { return e.pos <= m.upTo })
		if len(entries) == 0 {
			delete(u.byThread, key)
		} else {
			u.byThread[key] = entries
		}
	}
}

// flush writes the pending operations, in order. Actions are written in
// batches; a mark waits for the actions before it.
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

// writeOps writes the leading operations, at most maxFlushWrites of them,
// in one transaction, and says how many it wrote.
func (t *unreadTracker) writeOps(ctx context.Context, ops []pushOp) (int, error) {
	n := min(len(ops), maxFlushWrites)
	writes := make([]storage.PushWrite, n)
	for i, op := range ops[:n] {
		if op.mark != nil {
			m := op.mark
			writes[i].Mark = &storage.PushMark{UserID: m.userID, RoomID: m.roomID, ThreadID: m.threadID, UpTo: m.upTo}
		} else {
			writes[i].Action = op.action
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

// load returns the user's in-memory unread actions, reading them from
// the database if they are not loaded (see unreadTracker for why the
// writes behind are not waited for).
func (t *unreadTracker) load(ctx context.Context, userID string) (*userUnread, error) {
	for {
		t.mu.Lock()
		u, ok := t.users.Get(userID)
		if !ok {
			u = t.startLoadLocked(userID)
			t.mu.Unlock()
			return u, t.finishLoad(ctx, u, userID)
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
// operations for the user that may not be in the database yet. From now
// on add and markRead queue theirs behind them, in order.
func (t *unreadTracker) startLoadLocked(userID string) *userUnread {
	u := &userUnread{byThread: map[roomThread][]unreadEntry{}, loading: true, ready: make(chan struct{})}
	for _, ops := range [][]pushOp{t.inflight, t.pending} {
		for _, op := range ops {
			if op.action != nil && op.action.UserID == userID || op.mark != nil && op.mark.userID == userID {
				u.queued = append(u.queued, op)
			}
		}
	}
	t.users.Put(userID, u)
	return u
}

// finishLoad reads the user's actions, then replays the queued operations
// on them. The database holds every operation before the queued ones and
// maybe some of them, which replaying in order leaves as they were.
func (t *unreadTracker) finishLoad(ctx context.Context, u *userUnread, userID string) error {
	rows, err := t.store.PushActions(ctx, userID, 0, maxUnreadLoaded, false)
	t.mu.Lock()
	defer t.mu.Unlock()
	defer close(u.ready)
	if err != nil {
		u.err = err
		if cur, ok := t.users.Get(userID); ok && cur == u {
			t.users.Remove(userID)
		}
		return err
	}
	for i := len(rows) - 1; i >= 0; i-- { // oldest first
		if r := rows[i]; !r.Read {
			key := roomThread{r.RoomID, r.ThreadID}
			u.byThread[key] = append(u.byThread[key], unreadEntry{r.StreamPos, r.Highlight})
		}
	}
	u.loading = false
	for _, op := range u.queued {
		u.apply(op)
	}
	u.queued = nil
	return nil
}
