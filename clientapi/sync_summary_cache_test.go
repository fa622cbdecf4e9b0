package clientapi

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// The summaries are cached per room: each change to the members must show
// in the next sync, and each user gets the heroes without themselves.
func TestSyncRoomSummaryCacheFollowsChanges(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createUnnamedRoom(e.alice, e.bob)
	summary := func(token string) string { return summaryOf(t, e.sync(token, nil), room) }
	heroes := func(h string) string { return `{"m.heroes":["` + h + `"],` }
	steps := []struct {
		name   string
		change func()
		token  string
		want   string
	}{
		{"alice, bob invited", func() {}, e.aliceToken, heroes(e.bob) + `"m.invited_member_count":1,"m.joined_member_count":1}`},
		{"a message changes nothing", func() { e.message(room, e.alice, "hi") }, e.aliceToken,
			heroes(e.bob) + `"m.invited_member_count":1,"m.joined_member_count":1}`},
		{"bob joins", func() { e.membership(room, e.bob, "join") }, e.aliceToken,
			heroes(e.bob) + `"m.invited_member_count":0,"m.joined_member_count":2}`},
		{"bob sees alice as the hero", func() {}, e.bobToken, heroes(e.alice) + `"m.invited_member_count":0,"m.joined_member_count":2}`},
		{"bob leaves: a former member is the hero", func() { e.membership(room, e.bob, "leave") }, e.aliceToken,
			heroes(e.bob) + `"m.invited_member_count":0,"m.joined_member_count":1}`},
		{"a name: no heroes", func() {
			e.send(room, e.alice, "m.room.name", new(string), map[string]string{"name": "Named now"})
		}, e.aliceToken, `{"m.invited_member_count":0,"m.joined_member_count":1}`},
	}
	for _, st := range steps {
		st.change()
		if got := summary(st.token); got != st.want {
			t.Fatalf("%s: summary %s, want %s", st.name, got, st.want)
		}
	}
}

// countingSummaryStore counts reads and can run a hook inside one.
type countingSummaryStore struct {
	storage.RoomSummaryStore
	reads  atomic.Int32
	during func()
}

func (s *countingSummaryStore) RoomMemberSummary(ctx context.Context, roomID, exclude string, maxHeroes int) (storage.MemberSummary, error) {
	s.reads.Add(1)
	if f := s.during; f != nil {
		s.during = nil
		f()
	}
	return s.RoomSummaryStore.RoomMemberSummary(ctx, roomID, exclude, maxHeroes)
}

// A read that a change overtook is not cached: the next one reads again.
func TestSummaryCacheDropsRacedRead(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createUnnamedRoom(e.alice, e.bob)
	store := &countingSummaryStore{RoomSummaryStore: e.api.Store}
	c := newSummaryCache(store, e.api.Rooms.JoinedUsers)
	store.during = func() { c.drop(room) } // a member change commits mid-read
	for want := int32(1); want <= 2; want++ {
		if _, err := c.summary(t.Context(), room, e.alice); err != nil {
			t.Fatal(err)
		}
		if got := store.reads.Load(); got != want {
			t.Fatalf("reads %d, want %d", got, want)
		}
	}
	if _, err := c.summary(t.Context(), room, e.bob); err != nil || store.reads.Load() != 2 {
		t.Fatalf("a cached summary was read again (%d reads, err %v)", store.reads.Load(), err)
	}
}

// The push rules read the cached joined members: a member who joins after
// the room's members were cached is notified of the next message, and one
// who left is not.
func TestPushFollowsCachedJoinedMembers(t *testing.T) {
	e := newPushEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.message(room, e.alice, "before bob") // caches the members: alice alone
	e.membership(room, e.bob, "join")
	e.message(room, e.alice, "after bob joined")
	if n, _ := unread(e.sync(e.bobToken, nil), room); n != 1 {
		t.Fatalf("bob's count %v after joining, want 1", n)
	}
	members, err := e.api.joinedUserIDs(t.Context(), room)
	if err != nil || len(members) != 2 {
		t.Fatalf("joined %v (%v), want alice and bob", members, err)
	}
	e.membership(room, e.bob, "leave")
	if members, err = e.api.joinedUserIDs(t.Context(), room); err != nil || len(members) != 1 || members[0] != e.alice {
		t.Fatalf("joined after bob left %v (%v), want alice", members, err)
	}
}
