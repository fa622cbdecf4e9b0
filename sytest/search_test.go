package sytest

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// searchFixture is a server where alice talks about foxes in three rooms:
// "shared" (bob joined), "private" (bob never joined) and "left" (bob
// joined, heard one fox, then left before the next).
type searchFixture struct {
	s                       *harness.Server
	alice, bob, eve         roomUser
	shared, private, left   string
	quick, fox3, lazy, tail string // event IDs in shared, in order
	beforeLeave, afterLeave string // in left
	secret                  string // in private
}

func newSearchFixture(t *testing.T, backend harness.Backend) *searchFixture {
	f := &searchFixture{s: accountServer(t, backend)}
	f.alice, f.bob, f.eve = newRoomUser(t, f.s, "alice"), newRoomUser(t, f.s, "bob"), newRoomUser(t, f.s, "eve")
	public := map[string]any{"preset": "public_chat"}
	f.shared, f.private, f.left = f.alice.createRoom(public), f.alice.createRoom(map[string]any{}), f.alice.createRoom(public)
	f.bob.ok("POST", roomPath(f.shared, "/join"), nil)
	f.bob.ok("POST", roomPath(f.left, "/join"), nil)
	f.quick = f.alice.send(f.shared, "s1", "The quick brown fox jumps")
	f.fox3 = f.bob.send(f.shared, "s2", "fox fox fox, nothing but foxes")
	f.lazy = f.alice.send(f.shared, "s3", "over the lazy dog")
	f.tail = f.alice.send(f.shared, "s4", "a fox again at the end")
	f.secret = f.alice.send(f.private, "p1", "the secret fox of the private room")
	f.beforeLeave = f.alice.send(f.left, "l1", "a fox while bob is here")
	f.bob.ok("POST", roomPath(f.left, "/leave"), map[string]any{})
	f.afterLeave = f.alice.send(f.left, "l2", "a fox after bob left")
	return f
}

// postSearch posts a room_events search and returns room_events.
func postSearch(u roomUser, nextBatch string, criteria map[string]any) map[string]any {
	u.t.Helper()
	path := "/search"
	if nextBatch != "" {
		path += "?next_batch=" + url.QueryEscape(nextBatch)
	}
	body := u.ok("POST", path, map[string]any{"search_categories": map[string]any{"room_events": criteria}})
	cats, _ := body["search_categories"].(map[string]any)
	re, _ := cats["room_events"].(map[string]any)
	if re == nil {
		u.t.Fatalf("no room_events in %v", body)
	}
	return re
}

func searchResultList(re map[string]any) []map[string]any {
	list, _ := re["results"].([]any)
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i], _ = r.(map[string]any)
	}
	return out
}

func searchResultIDs(re map[string]any) []string {
	var ids []string
	for _, r := range searchResultList(re) {
		ev, _ := r["result"].(map[string]any)
		ids = append(ids, str(ev, "event_id"))
	}
	return ids
}

// TestSearch: words are found in the rooms the searcher may see, by
// recency and by rank, page by page; never in a room they never joined
// or after they left it; redacted messages drop out.
func TestSearch(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		f := newSearchFixture(t, backend)
		recent := map[string]any{"search_term": "fox", "order_by": "recent"}
		got := postSearch(f.bob, "", recent)
		want := []string{f.beforeLeave, f.tail, f.fox3, f.quick}
		if ids := searchResultIDs(got); !reflect.DeepEqual(ids, want) {
			t.Errorf("bob, recent: %v, want %v (never %s in the private room, never %s after leaving)", ids, want, f.secret, f.afterLeave)
		}
		if got["count"] != float64(4) || fmt.Sprint(got["highlights"]) != "[fox]" || got["next_batch"] != nil {
			t.Errorf("count %v, highlights %v, next_batch %v", got["count"], got["highlights"], got["next_batch"])
		}
		if ids := searchResultIDs(postSearch(f.eve, "", recent)); len(ids) != 0 {
			t.Errorf("eve, in no room, found %v", ids)
		}
		all := searchResultIDs(postSearch(f.alice, "", recent))
		if want := []string{f.afterLeave, f.beforeLeave, f.secret, f.tail, f.fox3, f.quick}; !reflect.DeepEqual(all, want) {
			t.Errorf("alice, recent: %v, want %v", all, want)
		}
		checkSearchJoinedHistory(t, f)
		checkSearchRank(t, f)
		checkSearchPages(t, f, all)
		checkSearchContext(t, f)
		checkSearchErrors(t, f)

		f.alice.ok("PUT", roomPath(f.shared, "/redact/"+f.fox3+"/r1"), map[string]any{})
		if ids := searchResultIDs(postSearch(f.bob, "", recent)); !reflect.DeepEqual(ids, []string{f.beforeLeave, f.tail, f.quick}) {
			t.Errorf("after redacting %s: %v", f.fox3, ids)
		}
	})
}

// checkSearchRank: by rank (the default), "fox fox fox" comes first and
// ranks never rise; filters narrow by room and sender.
func checkSearchRank(t *testing.T, f *searchFixture) {
	t.Helper()
	got := searchResultList(postSearch(f.bob, "", map[string]any{"search_term": "FOX!"}))
	if len(got) != 4 {
		t.Fatalf("by rank: %d results, want 4", len(got))
	}
	if ev, _ := got[0]["result"].(map[string]any); str(ev, "event_id") != f.fox3 {
		t.Errorf("by rank, first %v, want the fox-fox-fox message %s", ev, f.fox3)
	}
	for i := 1; i < len(got); i++ {
		if prev, cur := got[i-1]["rank"].(float64), got[i]["rank"].(float64); cur > prev || cur <= 0 {
			t.Errorf("rank %d: %v after %v", i, cur, prev)
		}
	}
	narrowed := postSearch(f.bob, "", map[string]any{"search_term": "fox", "order_by": "recent",
		"filter": map[string]any{"rooms": []string{f.shared, f.private}, "senders": []string{f.alice.id}}})
	if ids := searchResultIDs(narrowed); !reflect.DeepEqual(ids, []string{f.tail, f.quick}) {
		t.Errorf("filter rooms+senders: %v", ids)
	}
	words := postSearch(f.bob, "", map[string]any{"search_term": "brown jumps", "keys": []string{"content.body"}})
	if ids := searchResultIDs(words); !reflect.DeepEqual(ids, []string{f.quick}) {
		t.Errorf("two words: %v", ids)
	}
}

// checkSearchPages: limit 1 pages through the same results, in both
// orders, with next_batch; groups carry their own next_batch.
func checkSearchPages(t *testing.T, f *searchFixture, all []string) {
	t.Helper()
	for _, order := range []string{"recent", "rank"} {
		criteria := map[string]any{"search_term": "fox", "order_by": order, "filter": map[string]any{"limit": 1}}
		var paged []string
		next := ""
		for range len(all) + 2 {
			page := postSearch(f.alice, next, criteria)
			paged = append(paged, searchResultIDs(page)...)
			next = str(page, "next_batch")
			if next == "" {
				if page["count"] != float64(len(all)) {
					t.Errorf("%s: final count %v, want %d", order, page["count"], len(all))
				}
				break
			}
		}
		if len(paged) != len(all) || order == "recent" && !reflect.DeepEqual(paged, all) {
			t.Errorf("%s, paged: %v, want %v", order, paged, all)
		}
	}
	grouped := postSearch(f.alice, "", map[string]any{"search_term": "fox", "order_by": "recent", "filter": map[string]any{"limit": 2},
		"groupings": map[string]any{"group_by": []any{map[string]any{"key": "room_id"}}}})
	byRoom, _ := grouped["groups"].(map[string]any)["room_id"].(map[string]any)
	left, _ := byRoom[f.left].(map[string]any)
	if fmt.Sprint(left["results"]) != fmt.Sprint([]string{f.afterLeave, f.beforeLeave}) || left["order"] != float64(1) || str(left, "next_batch") == "" {
		t.Fatalf("groups: %v", grouped["groups"])
	}
	inGroup := postSearch(f.alice, str(left, "next_batch"), map[string]any{"search_term": "fox", "order_by": "recent"})
	if ids := searchResultIDs(inGroup); len(ids) != 0 || inGroup["next_batch"] != nil {
		t.Errorf("the rest of the left room's group: %v", ids)
	}
}

// checkSearchContext: event_context brings the events around a result,
// with tokens and the senders' profiles; include_state the room state.
func checkSearchContext(t *testing.T, f *searchFixture) {
	t.Helper()
	got := postSearch(f.bob, "", map[string]any{"search_term": "lazy", "include_state": true,
		"event_context": map[string]any{"before_limit": 1, "after_limit": 1, "include_profile": true}})
	results := searchResultList(got)
	if len(results) != 1 {
		t.Fatalf("lazy: %v", got)
	}
	c, _ := results[0]["context"].(map[string]any)
	if b, a := eventBodies(c["events_before"]), eventBodies(c["events_after"]); fmt.Sprint(b, a) != "[fox fox fox, nothing but foxes] [a fox again at the end]" {
		t.Errorf("context: before %v, after %v", b, a)
	}
	if str(c, "start") == "" || str(c, "end") == "" {
		t.Errorf("context tokens: %v", c)
	}
	profiles, _ := c["profile_info"].(map[string]any)
	if profiles[f.alice.id] == nil || profiles[f.bob.id] == nil {
		t.Errorf("profile_info: %v", c["profile_info"])
	}
	state, _ := got["state"].(map[string]any)
	if !hasStateType(state[f.shared], "m.room.create") {
		t.Errorf("include_state: %v", got["state"])
	}
}

func checkSearchErrors(t *testing.T, f *searchFixture) {
	t.Helper()
	term := map[string]any{"search_categories": map[string]any{"room_events": map[string]any{"search_term": "fox"}}}
	f.alice.wantErr(f.alice.do("POST", "/search", map[string]any{"search_categories": map[string]any{"room_events": map[string]any{}}}),
		http.StatusBadRequest, "M_MISSING_PARAM")
	f.alice.wantErr(f.alice.do("POST", "/search", map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
	f.alice.wantErr(f.alice.do("POST", "/search", map[string]any{"search_categories": map[string]any{"room_events": map[string]any{"search_term": 5}}}),
		http.StatusBadRequest, "M_BAD_JSON")
	f.alice.wantErr(f.alice.do("POST", "/search?next_batch=bogus", term), http.StatusBadRequest, "M_INVALID_PARAM")
	want(t, f.s.Do("POST", clientV3+"/search", term, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
	if body := f.alice.ok("POST", "/search", map[string]any{"search_categories": map[string]any{}}); fmt.Sprint(body) != "map[search_categories:map[]]" {
		t.Errorf("no category: %v", body)
	}
}

// checkSearchJoinedHistory: in a room with joined history visibility,
// what was said before the searcher joined is not found, what came after
// is. The room is one they are in, so only the per-event check hides it.
func checkSearchJoinedHistory(t *testing.T, f *searchFixture) {
	t.Helper()
	hv := map[string]any{"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": "joined"}}
	roomID := f.alice.createRoom(map[string]any{"preset": "public_chat", "initial_state": []any{hv}})
	f.alice.send(roomID, "j1", "badger before the join")
	f.bob.ok("POST", roomPath(roomID, "/join"), nil)
	after := f.alice.send(roomID, "j2", "badger after the join")
	if ids := searchResultIDs(postSearch(f.bob, "", map[string]any{"search_term": "badger"})); !reflect.DeepEqual(ids, []string{after}) {
		t.Errorf("joined history: bob found %v, want only %s", ids, after)
	}
	if ids := searchResultIDs(postSearch(f.alice, "", map[string]any{"search_term": "badger"})); len(ids) != 2 {
		t.Errorf("joined history: alice found %v, want both", ids)
	}
}
