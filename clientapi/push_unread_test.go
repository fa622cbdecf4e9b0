package clientapi

import (
	"context"
	"testing"
	"time"

	"github.com/warbler-im/warbler/storage"
)

// gatedPushStore holds WritePush (after it wrote, if writeFirst) and
// UnreadPushActions until released, so a test can order a load against a flush.
type gatedPushStore struct {
	storage.PushStore
	writeFirst   bool
	addEntered   chan struct{}
	addRelease   chan struct{}
	readEntered  chan struct{}
	readRelease  chan struct{}
	gateAdd      bool
	gateReadOnce bool
}

func (g *gatedPushStore) WritePush(ctx context.Context, writes []storage.PushWrite) error {
	if !g.gateAdd {
		return g.PushStore.WritePush(ctx, writes)
	}
	var err error
	if g.writeFirst {
		err = g.PushStore.WritePush(ctx, writes)
	}
	g.addEntered <- struct{}{}
	<-g.addRelease
	if !g.writeFirst {
		err = g.PushStore.WritePush(ctx, writes)
	}
	return err
}

func (g *gatedPushStore) UnreadPushActions(ctx context.Context, userID string, roomIDs []string, scanPerRoom int) (storage.UnreadPush, error) {
	if g.gateReadOnce {
		g.gateReadOnce = false
		g.readEntered <- struct{}{}
		<-g.readRelease
	}
	return g.PushStore.UnreadPushActions(ctx, userID, roomIDs, scanPerRoom)
}

func newGatedPushStore(inner storage.PushStore) *gatedPushStore {
	return &gatedPushStore{PushStore: inner, addEntered: make(chan struct{}), addRelease: make(chan struct{}),
		readEntered: make(chan struct{}), readRelease: make(chan struct{})}
}

// newTestTracker is a tracker whose users' rooms are !r:x and !s:x.
// flushStages are where a load can meet a flush: before its write, and
// after it but before the flush has its answer.
var flushStages = []struct {
	name       string
	writeFirst bool
}{{"flush not yet written", false}, {"flush written, not yet confirmed", true}}

// startGatedFlush starts a flush of tr that stops at g's gate (after its
// write when writeFirst) and returns once it is there; the flush's result
// comes on the channel after g.addRelease is closed.
func startGatedFlush(t *testing.T, g *gatedPushStore, tr *unreadTracker, writeFirst bool) chan error {
	t.Helper()
	g.gateAdd, g.writeFirst = true, writeFirst
	flushed := make(chan error, 1)
	go func() { flushed <- tr.flush(context.Background()) }()
	select {
	case <-g.addEntered:
	case <-time.After(10 * time.Second):
		t.Fatal("the flush never wrote")
	}
	return flushed
}

func newTestTracker(store storage.PushStore) *unreadTracker {
	return newUnreadTracker(store, func(context.Context, string) ([]string, error) { return []string{"!r:x", "!s:x"}, nil })
}

// unreadNote is the notification of event pos in !r:x's main timeline
// to users (default @u:x), a highlight for them if hl.
func unreadNote(pos int64, hl bool, users ...string) storage.PushNotification {
	if len(users) == 0 {
		users = []string{"@u:x"}
	}
	n := storage.PushNotification{RoomID: "!r:x", EventID: "$e" + string(rune('a'+pos)), StreamPos: pos, ThreadID: "main"}
	for _, u := range users {
		n.Recipients = append(n.Recipients, storage.PushRecipient{UserID: u, Highlight: hl, Actions: []byte(`["notify"]`)})
	}
	return n
}

// A first load does not wait for a flush in progress, and counts what the
// flush is writing exactly once, whether or not it has landed yet.
func TestUnreadLoadDoesNotWaitForFlush(t *testing.T) {
	for _, tc := range flushStages {
		t.Run(tc.name, func(t *testing.T) {
			e := newPushEnv(t)
			g := newGatedPushStore(e.db)
			tr := newTestTracker(g)
			tr.add([]storage.PushNotification{unreadNote(1, false), unreadNote(2, true)})
			flushed := startGatedFlush(t, g, tr, tc.writeFirst) // both actions in flight
			tr.add([]storage.PushNotification{unreadNote(3, false)})
			done := make(chan struct{})
			go func() {
				defer close(done)
				wantTracked(t, tr, map[roomThread][2]int{{"!r:x", "main"}: {3, 1}})
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the load waited for the flush")
			}
			close(g.addRelease)
			if err := <-flushed; err != nil {
				t.Fatal(err)
			}
			g.gateAdd = false
			if err := tr.flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			wantTracked(t, tr, map[roomThread][2]int{{"!r:x", "main"}: {3, 1}})
			wantTracked(t, newTestTracker(e.db), map[roomThread][2]int{{"!r:x", "main"}: {3, 1}}) // as after a restart
		})
	}
}

// Operations that arrive while a user's actions are being read are
// applied after them, in order.
func TestUnreadOperationsDuringLoad(t *testing.T) {
	e := newPushEnv(t)
	g := newGatedPushStore(e.db)
	tr := newTestTracker(g)
	tr.add([]storage.PushNotification{unreadNote(1, false), unreadNote(2, false)})
	if err := tr.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	g.gateReadOnce = true
	counted := make(chan map[roomThread]storage.UnreadCount, 1)
	go func() {
		c, err := tr.counts(context.Background(), "@u:x")
		if err != nil {
			t.Error(err)
		}
		counted <- c
	}()
	<-g.readEntered
	tr.add([]storage.PushNotification{unreadNote(3, true)})
	tr.markRead("@u:x", "!r:x", "", 2) // a receipt for the second message
	tr.add([]storage.PushNotification{unreadNote(4, false)})
	// A second reader of the same user waits for the first load.
	second := make(chan map[roomThread]storage.UnreadCount, 1)
	go func() {
		c, _ := tr.counts(context.Background(), "@u:x")
		second <- c
	}()
	close(g.readRelease)
	for _, c := range []map[roomThread]storage.UnreadCount{<-counted, <-second} {
		if got := c[roomThread{"!r:x", "main"}]; got.Notify != 2 || got.Highlight != 1 {
			t.Fatalf("counts %+v, want 2 notifications, 1 highlight", got)
		}
	}
}

// A notification of several users is one operation: a user loaded while
// a flush writes it (and a mark of theirs) counts it once, a user loaded
// before counts it live, and a user it does not name does not count it.
func TestUnreadLoadDuringFlushOfSharedNotifications(t *testing.T) {
	for _, tc := range flushStages {
		t.Run(tc.name, func(t *testing.T) {
			e := newPushEnv(t)
			g := newGatedPushStore(e.db)
			tr := newTestTracker(g)
			wantTrackedFor(t, tr, "@u:x", map[roomThread][2]int{}) // loaded before
			tr.add([]storage.PushNotification{unreadNote(1, false, "@u:x", "@v:x"), unreadNote(2, true, "@v:x")})
			tr.markRead("@v:x", "!r:x", "", 1)
			tr.add([]storage.PushNotification{unreadNote(3, false, "@w:x", "@v:x", "@u:x")})
			flushed := startGatedFlush(t, g, tr, tc.writeFirst)
			tr.add([]storage.PushNotification{unreadNote(4, false, "@u:x", "@v:x")})
			wantU := map[roomThread][2]int{{"!r:x", "main"}: {3, 0}}
			wantV := map[roomThread][2]int{{"!r:x", "main"}: {3, 1}}
			wantW := map[roomThread][2]int{{"!r:x", "main"}: {1, 0}}
			wantTrackedFor(t, tr, "@v:x", wantV)
			wantTrackedFor(t, tr, "@u:x", wantU)
			close(g.addRelease)
			if err := <-flushed; err != nil {
				t.Fatal(err)
			}
			g.gateAdd = false
			if err := tr.flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			wantTrackedFor(t, tr, "@v:x", wantV)
			wantTrackedFor(t, tr, "@w:x", wantW)
			restarted := newTestTracker(e.db)
			wantTrackedFor(t, restarted, "@u:x", wantU)
			wantTrackedFor(t, restarted, "@v:x", wantV)
			wantTrackedFor(t, restarted, "@w:x", wantW)
			wantTrackedFor(t, restarted, "@x:x", map[roomThread][2]int{})
		})
	}
}

// A write the database refuses for ever (here a recipient that is not a
// user ID) is dropped from the flush; the rest land, and later flushes
// are not held up by it.
func TestUnreadFlushDropsARefusedWrite(t *testing.T) {
	e := newPushEnv(t)
	tr := newTestTracker(e.db)
	tr.add([]storage.PushNotification{unreadNote(1, false), unreadNote(2, false, "@u:x", "@bad\tuser:x"), unreadNote(3, true)})
	if err := tr.flush(t.Context()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	tr.mu.Lock()
	pending, inflight := len(tr.pending), len(tr.inflight)
	tr.mu.Unlock()
	if pending != 0 || inflight != 0 {
		t.Fatalf("%d pending and %d in flight after the flush", pending, inflight)
	}
	tr.add([]storage.PushNotification{unreadNote(4, false)})
	if err := tr.flush(t.Context()); err != nil {
		t.Fatalf("second flush: %v", err)
	}
	// As after a restart: what landed is 1, 3 and 4.
	wantTracked(t, newTestTracker(e.db), map[roomThread][2]int{{"!r:x", "main"}: {3, 1}})
}
