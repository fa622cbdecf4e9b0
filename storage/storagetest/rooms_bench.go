package storagetest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// Benchmarks of the room store's hot paths, for any implementation:
// persisting a message (every event sent) and reading a big room's state
// (every state resolution, initial sync and federated /state).

// cacheDropper is implemented by stores with in-process caches that a
// benchmark may empty to measure cold reads.
type cacheDropper interface{ DropRoomCaches() }

// fillRoom creates a room whose current state has the create event and
// members m0000… joined, stored the way a federated join stores the
// room's state: as outliers, then made the current state.
func fillRoom(b *testing.B, db storage.Database, name string, members int) *testRoom {
	b.Helper()
	r := newTestRoom(b, db, name, alice)
	var batch []storage.NewEvent
	var changes []storage.StateEntry
	for i := range members {
		uid := userID(fmt.Sprintf("m%05d", i), fmt.Sprintf("s%d.example", i%20))
		ev := r.event("m.room.member", ptr(uid), uid, `{"membership":"join"}`)
		ev.Outlier = true
		batch = append(batch, ev)
		changes = append(changes, storage.StateEntry{Type: ev.Type, StateKey: uid, EventID: ev.EventID})
		r.state[stateSlot{ev.Type, uid}] = ev.EventID
	}
	r.persist(batch, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot, Changes: changes}})
	return r
}

// BenchmarkPersistMessage measures PersistEvents of one message event,
// with its state before it and the new forward extremity, into a room of
// 1,000 joined members.
func BenchmarkPersistMessage(b *testing.B, db storage.Database) {
	r := fillRoom(b, db, "bench", 1000)
	ctx := b.Context()
	sender := userID("m00001", "s1.example")
	for b.Loop() {
		ev := r.event("m.room.message", nil, sender, `{"msgtype":"m.text","body":"hello, room"}`)
		_, err := db.PersistEvents(ctx, r.id, []storage.NewEvent{ev}, storage.RoomUpdate{ForwardExtremities: []string{ev.EventID}})
		if err != nil {
			b.Fatal(err)
		}
		r.depth, r.extrems = ev.Depth, []string{ev.EventID}
	}
}

// BenchmarkStateSnapshot measures StateSnapshot of a 10,000-entry state:
// "cached" with the store's caches warm, "cold" with them emptied before
// each read (skipped if db has no caches to empty). "lookup" measures
// StateEvent, the single-slot read that auth checks make, cached.
func BenchmarkStateSnapshot(b *testing.B, db storage.Database) {
	const members = 9999 // plus the create event
	r := fillRoom(b, db, "bigstate", members)
	ctx := b.Context()
	read := func(b *testing.B) {
		entries, err := db.StateSnapshot(ctx, r.snapshot)
		if err != nil {
			b.Fatal(err)
		}
		if len(entries) != members+1 {
			b.Fatalf("StateSnapshot returned %d entries, want %d", len(entries), members+1)
		}
	}
	b.Run("cached", func(b *testing.B) {
		read(b)
		for b.Loop() {
			read(b)
		}
	})
	b.Run("cold", func(b *testing.B) {
		dropper, ok := db.(cacheDropper)
		if !ok {
			b.Skip("the store has no caches to drop")
		}
		for b.Loop() {
			dropper.DropRoomCaches()
			read(b)
		}
	})
	b.Run("lookup", func(b *testing.B) {
		i := 0
		for b.Loop() {
			uid := userID(fmt.Sprintf("m%05d", i%members), fmt.Sprintf("s%d.example", i%members%20))
			if _, err := db.StateEvent(ctx, r.snapshot, "m.room.member", uid); err != nil {
				b.Fatal(err)
			}
			i += 7
		}
	})
}

// BenchmarkPersistMessageParallel measures PersistEvents of messages sent
// into eight rooms at once, one writer per room as the roomserver runs
// them: what a busy server does, and where writers of different rooms
// may queue behind one another's commits.
func BenchmarkPersistMessageParallel(b *testing.B, db storage.Database) {
	const parallelism = 4
	writers := parallelism * runtime.GOMAXPROCS(0)
	rooms := make([]*testRoom, writers)
	for i := range rooms {
		rooms[i] = fillRoom(b, db, fmt.Sprintf("par%d", i), 50)
	}
	ctx := b.Context()
	sender := userID("m00001", "s1.example")
	var next atomic.Int32
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rooms[next.Add(1)-1]
		for pb.Next() {
			ev := r.event("m.room.message", nil, sender, `{"msgtype":"m.text","body":"hello, room"}`)
			_, err := db.PersistEvents(ctx, r.id, []storage.NewEvent{ev}, storage.RoomUpdate{ForwardExtremities: []string{ev.EventID}})
			if err != nil {
				b.Error(err)
				return
			}
			r.depth, r.extrems = ev.Depth, []string{ev.EventID}
		}
	})
}

// BenchmarkWritePush measures storing the push notifications of
// messages in rooms of 50 local members, each notifying 49 of them: one
// message per call (a commit each), and 50 messages per call, as a
// write-behind flush sends them.
func BenchmarkWritePush(b *testing.B, db storage.Database) {
	recipients := make([]storage.PushRecipient, 49)
	for i := range recipients {
		recipients[i] = storage.PushRecipient{UserID: fmt.Sprintf("@u%02d:x", i),
			Actions: []byte(`["notify",{"set_tweak":"sound","value":"default"}]`)}
	}
	var pos int64
	for _, perCall := range []int{1, 50} {
		b.Run(fmt.Sprintf("messages=%d", perCall), func(b *testing.B) {
			writes := make([]storage.PushWrite, perCall)
			for b.Loop() {
				for i := range writes {
					pos++
					writes[i].Notification = &storage.PushNotification{RoomID: fmt.Sprintf("!r%d:x", pos%20), EventID: fmt.Sprintf("$e%d", pos),
						StreamPos: pos, ThreadID: "main", TS: pos, Recipients: recipients}
				}
				if err := db.WritePush(b.Context(), writes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
