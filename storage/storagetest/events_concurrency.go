package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

const (
	concurrentRooms = 6
	messagesPerRoom = 30
	observerLimit   = 1_000_000
)

// testConcurrentPersist persists into several rooms at once while an
// observer, playing /sync, repeatedly reads MaxStreamPosition and then
// every timeline event up to it. Positions must be unique and increase
// within each room, and whenever position N is visible every position up
// to N must be too: if a later position could commit before an earlier
// one, a sync would skip the earlier event for ever.
func testConcurrentPersist(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	rooms := make([]*testRoom, concurrentRooms)
	roomIDs := make([]string, concurrentRooms)
	for i := range rooms {
		rooms[i] = newTestRoom(t, db, fmt.Sprintf("c%d", i), alice)
		roomIDs[i] = rooms[i].id
	}

	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, concurrentRooms+1)
	positions := make([][]int64, concurrentRooms)
	for i, r := range rooms {
		wg.Go(func() {
			for n := range messagesPerRoom {
				// Built and persisted without the fixture's helpers,
				// which may fail the test only on its own goroutine.
				ev := r.event("m.room.message", nil, alice, fmt.Sprintf(`{"body":"%d"}`, n))
				pos, err := db.PersistEvents(ctx, r.id, []storage.NewEvent{ev}, storage.RoomUpdate{ForwardExtremities: []string{ev.EventID}})
				if err != nil {
					errs <- fmt.Errorf("room %d: PersistEvents: %w", i, err)
					return
				}
				r.depth, r.extrems = ev.Depth, []string{ev.EventID}
				positions[i] = append(positions[i], pos[0].Stream)
			}
		})
	}
	var observed atomic.Int64
	observer := make(chan struct{})
	go func() {
		defer close(observer)
		for !done.Load() {
			if err := observeStream(db, t, roomIDs); err != nil {
				errs <- err
				return
			}
			observed.Add(1)
		}
	}()
	wg.Wait()
	done.Store(true)
	<-observer
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("observer checked the stream %d times during the writes", observed.Load())

	var all []int64
	for i, ps := range positions {
		if !slices.IsSorted(ps) || len(slices.Compact(slices.Clone(ps))) != len(ps) {
			t.Errorf("room %d got positions %v, want strictly increasing", i, ps)
		}
		all = append(all, ps...)
	}
	slices.Sort(all)
	if len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Errorf("positions handed out twice: %v", all)
	}
	if err := observeStream(db, t, roomIDs); err != nil {
		t.Error(err)
	}
	max, err := db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	wantEqual(t, "MaxStreamPosition", max, int64(concurrentRooms*(messagesPerRoom+1)))
}

// observeStream checks that the events visible up to MaxStreamPosition
// are exactly positions 1 to it.
func observeStream(db storage.Database, t *testing.T, roomIDs []string) error {
	max, err := db.MaxStreamPosition(t.Context())
	if err != nil {
		return err
	}
	timelines, err := db.RoomEventsSince(t.Context(), 0, max, roomIDs, observerLimit)
	if err != nil {
		return err
	}
	var seen []int64
	for _, tl := range timelines {
		if tl.Limited {
			return errors.New("observer: timeline limited")
		}
		for _, e := range tl.Events {
			seen = append(seen, e.StreamPos)
		}
	}
	slices.Sort(seen)
	for i, pos := range seen {
		if pos != int64(i+1) {
			return fmt.Errorf("observer: MaxStreamPosition is %d but the visible positions are %v: position %d is missing", max, seen, i+1)
		}
	}
	if int64(len(seen)) != max {
		return fmt.Errorf("observer: MaxStreamPosition is %d but %d events are visible", max, len(seen))
	}
	return nil
}
