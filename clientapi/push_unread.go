package clientapi

import (
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
// batches (flushInterval). A user's counts are loaded from the database,
// after a flush, the first time they are needed.
//
// What a crash can lose: the push actions of the last flushInterval,
// never an event. The counts are then low by those notifications.
type unreadTracker struct {
	store storage.PushStore

	mu      sync.Mutex
	users   *lru.Cache[string, *userUnread]
	pending []pushOp
	kick    chan struct{}

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
// in stream order.
type userUnread struct {
	byThread map[roomThread][]unreadEntry
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
		t.pending = append(t.pending, pushOp{action: &a})
		if u, ok := t.users.Get(a.UserID); ok {
			u.addAction(&a)
		}
	}
	if len(t.pending) >= flushBatch {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

func (u *userUnread) addAction(a *storage.PushAction) {
	key := roomThread{a.RoomID, a.ThreadID}
	u.byThread[key] = append(u.byThread[key], unreadEntry{a.StreamPos, a.Highlight})
}

// markRead clears a user's actions in a room at or below upTo, in one
// thread or ("") all.
func (t *unreadTracker) markRead(userID, roomID, threadID string, upTo int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := unreadMark{userID, roomID, threadID, upTo}
	t.pending = append(t.pending, pushOp{mark: &m})
	if u, ok := t.users.Get(userID); ok {
		u.mark(&m)
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
	t.pending = nil
	t.mu.Unlock()
	for len(ops) > 0 {
		n, err := t.writeOps(ctx, ops)
		if err != nil {
			t.mu.Lock()
			t.pending = append(ops, t.pending...) // retried next time, in order
			t.mu.Unlock()
			return err
		}
		ops = ops[n:]
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
// the database (after writing what is pending) if they are not loaded.
func (t *unreadTracker) load(ctx context.Context, userID string) (*userUnread, error) {
	t.mu.Lock()
	u, ok := t.users.Get(userID)
	t.mu.Unlock()
	if ok {
		return u, nil
	}
	// Writes for this user between this flush and the Put below would be
	// lost to the cache, so the flush lock is held until the user is in.
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	if err := t.flushLocked(ctx); err != nil {
		return nil, err
	}
	rows, err := t.store.PushActions(ctx, userID, 0, maxUnreadLoaded, false)
	if err != nil {
		return nil, err
	}
	u = &userUnread{byThread: map[roomThread][]unreadEntry{}}
	for i := len(rows) - 1; i >= 0; i-- { // oldest first
		if r := rows[i]; !r.Read {
			key := roomThread{r.RoomID, r.ThreadID}
			u.byThread[key] = append(u.byThread[key], unreadEntry{r.StreamPos, r.Highlight})
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if existing, ok := t.users.Get(userID); ok {
		return existing, nil
	}
	// Operations queued since the flush are applied now that u is in.
	t.users.Put(userID, u)
	t.applyPendingLocked(u, userID)
	return u, nil
}

// applyPendingLocked applies the queued operations of userID to u.
func (t *unreadTracker) applyPendingLocked(u *userUnread, userID string) {
	for _, op := range t.pending {
		switch {
		case op.action != nil && op.action.UserID == userID:
			u.addAction(op.action)
		case op.mark != nil && op.mark.userID == userID:
			u.mark(op.mark)
		}
	}
}
