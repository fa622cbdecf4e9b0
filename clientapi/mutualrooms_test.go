package clientapi

import (
	"net/url"
	"slices"
	"testing"
)

func TestMutualRooms(t *testing.T) {
	e := newSyncEnv(t)
	var shared []string
	for range mutualRoomsPage + 3 {
		room := e.createRoom(e.alice, e.bob)
		e.membership(room, e.bob, "join")
		shared = append(shared, room)
	}
	slices.Sort(shared)
	e.createRoom(e.alice)        // alice's alone
	e.createRoom(e.alice, e.bob) // bob invited, not joined
	left := e.createRoom(e.alice, e.bob)
	e.membership(left, e.bob, "join")
	e.membership(left, e.bob, "leave")

	path := v1 + "/mutual_rooms?user_id=" + url.QueryEscape(e.bob)
	first := e.do("GET", path, nil, e.aliceToken).want(t, 200, "")
	if first.body["count"] != float64(len(shared)) {
		t.Errorf("count %v, want %d", first.body["count"], len(shared))
	}
	next := first.str("next_batch")
	if next == "" {
		t.Fatalf("no next_batch: %v", first.body)
	}
	second := e.do("GET", path+"&from="+url.QueryEscape(next), nil, e.aliceToken).want(t, 200, "")
	if _, more := second.body["next_batch"]; more {
		t.Errorf("second page has next_batch")
	}
	var got []string
	for _, page := range []testResponse{first, second} {
		joined, _ := page.body["joined"].([]any)
		for _, r := range joined {
			got = append(got, r.(string))
		}
	}
	if !slices.Equal(got, shared) {
		t.Errorf("joined rooms differ: got %d, want %d", len(got), len(shared))
	}
	// Bob sees the same from his side.
	if resp := e.do("GET", v1+"/mutual_rooms?user_id="+url.QueryEscape(e.alice), nil, e.bobToken).want(t, 200, ""); resp.body["count"] != float64(len(shared)) {
		t.Errorf("bob's count %v", resp.body["count"])
	}

	// An unknown user shares nothing; that is not an error.
	resp := e.do("GET", v1+"/mutual_rooms?user_id="+url.QueryEscape("@nobody:elsewhere.org"), nil, e.aliceToken).want(t, 200, "")
	if joined, _ := resp.body["joined"].([]any); len(joined) != 0 || resp.body["count"] != float64(0) {
		t.Errorf("unknown user: %v", resp.body)
	}
	bad := []struct{ name, query, errcode string }{
		{"missing user_id", "", "M_MISSING_PARAM"},
		{"not a user ID", "?user_id=bob", "M_INVALID_PARAM"},
		{"self", "?user_id=" + url.QueryEscape(e.alice), "M_INVALID_PARAM"},
		{"bad from", "?user_id=" + url.QueryEscape(e.bob) + "&from=%21%21", "M_INVALID_PARAM"},
		{"from not a room", "?user_id=" + url.QueryEscape(e.bob) + "&from=Ym9i", "M_INVALID_PARAM"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			e.do("GET", v1+"/mutual_rooms"+tc.query, nil, e.aliceToken).want(t, 400, tc.errcode)
		})
	}
	e.do("GET", path, nil, "").want(t, 401, "M_MISSING_TOKEN")
}
