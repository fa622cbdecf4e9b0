package clientapi

import (
	"context"
	"testing"
	"time"

	"github.com/warbler-im/warbler/storage"
)

// gatedPushStore holds WritePush (after it wrote, if writeFirst) and
// PushActions until released, so a test can order a load against a flush.
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

func (g *gatedPushStore) PushActions(ctx context.Context, userID string, before int64, limit int, highlightsOnly bool) ([]storage.PushAction, error) {
	if g.gateReadOnce {
		g.gateReadOnce = false
		g.readEntered <- struct{}{}
		<-g.readRelease
	}
	return g.PushStore.PushActions(ctx, userID, before, limit, highlightsOnly)
}

func newGatedPushStore(inner storage.PushStore) *gatedPushStore {
	return &gatedPushStore{PushStore: inner, addEntered: make(chan struct{}), addRelease: make(chan struct{}),
		readEntered: make(chan struct{}), readRelease: make(chan struct{})}
}

func unreadAct(pos int64, hl bool) storage.PushAction {
	return storage.PushAction{UserID: "@u:x", RoomID: "!r:x", EventID: "$e" + string(rune('a'+pos)), StreamPos: pos,
		ThreadID: "main", Highlight: hl, Actions: []byte(`["notify"]`)}
}

// A first load does not wait for a flush in progress, and counts what the
// flush is writing exactly once, whether or not it has landed yet.
func TestUnreadLoadDoesNotWaitForFlush(t *testing.T) {
	for _, tc := range []struct {
		name       string
		writeFirst bool
	}{{"flush not yet written", false}, {"flush written, not yet confirmed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPushEnv(t)
			g := newGatedPushStore(e.db)
			tr := newUnreadTracker(g)
			tr.add([]storage.PushAction{unreadAct(1, false), unreadAct(2, true)})
			g.gateAdd, g.writeFirst = true, tc.writeFirst
			flushed := make(chan error, 1)
			go func() { flushed <- tr.flush(context.Background()) }()
			select { // the flush holds both actions in flight
			case <-g.addEntered:
			case <-time.After(10 * time.Second):
				t.Fatal("the flush never wrote")
			}
			tr.add([]storage.PushAction{unreadAct(3, false)})
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
			wantTracked(t, newUnreadTracker(e.db), map[roomThread][2]int{{"!r:x", "main"}: {3, 1}}) // as after a restart
		})
	}
}

// Operations that arrive while a user's actions are being read are
// applied after them, in order.
func TestUnreadOperationsDuringLoad(t *testing.T) {
	e := newPushEnv(t)
	g := newGatedPushStore(e.db)
	tr := newUnreadTracker(g)
	tr.add([]storage.PushAction{unreadAct(1, false), unreadAct(2, false)})
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
	tr.add([]storage.PushAction{unreadAct(3, true)})
	tr.markRead("@u:x", "!r:x", "", 2) // a receipt for the second message
	tr.add([]storage.PushAction{unreadAct(4, false)})
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
