package sytest

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// messagesOnly is a RoomEventFilter keeping only messages, so the
// room's creation events do not count against the pages.
var messagesOnly = mustMarshal(map[string]any{"types": []string{"m.room.message"}})

// TestMessagesPagination: 25 messages page backwards from /sync's
// prev_batch in pages of 10, and forwards again from the room's start;
// the last page of each direction has no end.
func TestMessagesPagination(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice := newRoomUser(t, s, "alice")
		roomID := alice.createRoom(map[string]any{"name": "History"})
		for i := range 25 {
			alice.send(roomID, fmt.Sprint("txn", i), fmt.Sprint("m", i))
		}
		filter := url.QueryEscape(mustMarshal(map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": 1}}}))
		synced := alice.ok("GET", "/sync?filter="+filter, nil)
		tl, _ := syncRoom(synced, "join", roomID)["timeline"].(map[string]any)
		prevBatch := str(tl, "prev_batch")

		checkPages(t, alice, roomID, "b", prevBatch, [][2]int{{23, 14}, {13, 4}, {3, 0}})
		checkPages(t, alice, roomID, "f", "", [][2]int{{0, 9}, {10, 19}, {20, 24}})
		// A sync token maps to the latest event at or before it.
		page := messages(alice, roomID, "b", syncToken(t, synced), 1, "")
		if got := chunkBodies(page); len(got) != 1 || got[0] != "m24" {
			t.Errorf("backwards from next_batch: %v", got)
		}
	})
}

// checkPages pages through the room in dir from from, expecting messages
// m<first>..m<last> on each page, and no end after the last page.
func checkPages(t *testing.T, u roomUser, roomID, dir, from string, pages [][2]int) {
	t.Helper()
	for i, want := range pages {
		page := messages(u, roomID, dir, from, 10, messagesOnly)
		got := chunkBodies(page)
		if len(got) == 0 || got[0] != fmt.Sprint("m", want[0]) || got[len(got)-1] != fmt.Sprint("m", want[1]) {
			t.Fatalf("dir=%s page %d: %v, want m%d..m%d", dir, i, got, want[0], want[1])
		}
		if from != "" && str(page, "start") != from {
			t.Errorf("dir=%s page %d: start %q, want the from token %q", dir, i, str(page, "start"), from)
		}
		from = str(page, "end")
		if last := i == len(pages)-1; last != (from == "") {
			t.Fatalf("dir=%s page %d: end %q", dir, i, from)
		}
	}
}

// messages fetches one /messages page.
func messages(u roomUser, roomID, dir, from string, limit int, filter string) map[string]any {
	u.t.Helper()
	q := url.Values{"dir": {dir}, "limit": {fmt.Sprint(limit)}}
	if from != "" {
		q.Set("from", from)
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	return u.ok("GET", roomPath(roomID, "/messages?"+q.Encode()), nil)
}

// chunkBodies lists the bodies of the messages of a /messages chunk (or
// any list of events under key).
func chunkBodies(page map[string]any) []string {
	return eventBodies(page["chunk"])
}

func eventBodies(list any) []string {
	events, _ := list.([]any)
	var out []string
	for _, e := range events {
		ev, _ := e.(map[string]any)
		if ev["type"] == "m.room.message" {
			content, _ := ev["content"].(map[string]any)
			body, _ := content["body"].(string)
			out = append(out, body)
		}
	}
	return out
}

// TestMessagesVisibilityAndLazyMembers: a user joining a room with joined
// history visibility sees only what came after the join; a world readable
// room reads for anyone; lazy_load_members returns the senders' member
// events; the end token of a backwards page pages forwards.
func TestMessagesVisibilityAndLazyMembers(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "eve")
		hv := func(v string) map[string]any {
			return map[string]any{"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": v}}
		}
		roomID := alice.createRoom(map[string]any{"preset": "public_chat", "initial_state": []any{hv("joined")}})
		alice.send(roomID, "a1", "before")
		bob.ok("POST", roomPath(roomID, "/join"), nil)
		alice.send(roomID, "a2", "after")
		lazy := mustMarshal(map[string]any{"types": []string{"m.room.message"}, "lazy_load_members": true})
		page := messages(bob, roomID, "b", "", 10, lazy)
		if got := chunkBodies(page); len(got) != 1 || got[0] != "after" {
			t.Errorf("bob sees %v, want only [after]", got)
		}
		if state, _ := page["state"].([]any); len(state) != 1 || state[0].(map[string]any)["state_key"] != alice.id {
			t.Errorf("lazy loaded state: %v", page["state"])
		}
		// alice sees both; forwards from her first page's end gives the rest.
		first := messages(alice, roomID, "b", "", 1, messagesOnly)
		if got := chunkBodies(first); len(got) != 1 || got[0] != "after" {
			t.Fatalf("alice's first page: %v", got)
		}
		second := messages(alice, roomID, "b", str(first, "end"), 1, messagesOnly)
		if got := chunkBodies(second); len(got) != 1 || got[0] != "before" {
			t.Fatalf("alice's second page: %v", got)
		}
		if got := chunkBodies(messages(alice, roomID, "f", str(second, "end"), 5, messagesOnly)); len(got) != 1 || got[0] != "after" {
			t.Errorf("forwards from a backwards end: %v", got)
		}

		open := alice.createRoom(map[string]any{"initial_state": []any{hv("world_readable")}})
		alice.send(open, "o1", "for all")
		if got := chunkBodies(messages(eve, open, "b", "", 10, "")); len(got) != 1 || got[0] != "for all" {
			t.Errorf("eve in a world readable room: %v", got)
		}
	})
}

// TestMessagesErrors: bad dir, non-members, bad tokens, no access token.
func TestMessagesErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "eve")
		roomID := alice.createRoom(map[string]any{})
		alice.send(roomID, "a1", "secret")
		path := roomPath(roomID, "/messages")
		alice.wantErr(alice.do("GET", path, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("GET", path+"?dir=up", nil), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("GET", path+"?dir=b&from=garbage", nil), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("GET", path+"?dir=b&from=tx-1", nil), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("GET", path+"?dir=b&limit=-1", nil), http.StatusBadRequest, "M_INVALID_PARAM")
		eve.wantErr(eve.do("GET", path+"?dir=b", nil), http.StatusForbidden, "M_FORBIDDEN")
		eve.wantErr(eve.do("GET", roomPath("!unknown:"+s.Name, "/messages?dir=b"), nil), http.StatusForbidden, "M_FORBIDDEN")
		want(t, s.Do("GET", clientV3+path+"?dir=b", nil, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
	})
}
