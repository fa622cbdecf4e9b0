package sytest

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestSpacesAcrossServers: a space on A has a child room on A, a child
// room on B and an invite-only child on A. Walked from A, the child on B
// is described by B over federation; walked from B (whose user joined the
// space), the child on A is described by A, and the invite-only child,
// which B may not see, is left out; A's federation /hierarchy, asked
// directly as B, lists that child as inaccessible. Pages, suggested
// rooms, depth and bad parameters; /room_summary of rooms on the other server, with and
// without an access token; and A's public room directory listed through
// B's /publicRooms?server=; and the same walk and listing through
// mautrix-go, a real client library.
func TestSpacesAcrossServers(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b := startFederating(t, backend), startFederating(t, backend)
		alice, bob := newRoomUser(t, a, "alice"), newRoomUser(t, b, "bob")
		space := alice.createRoom(map[string]any{"preset": "public_chat", "visibility": "public", "name": "the space",
			"creation_content": map[string]any{"type": "m.space"}})
		onA := alice.createRoom(map[string]any{"preset": "public_chat", "visibility": "public", "name": "child on A", "topic": "lives on A"})
		secret := alice.createRoom(map[string]any{"preset": "private_chat", "name": "secret child"})
		onB := bob.createRoom(map[string]any{"preset": "public_chat", "name": "child on B"})
		addChild(alice, space, onA, a.Name, "1", false)
		addChild(alice, space, onB, b.Name, "2", true)
		addChild(alice, space, secret, a.Name, "3", false)
		bob.ok("POST", "/join/"+url.PathEscape(space)+"?via="+url.QueryEscape(a.Name), map[string]any{})

		t.Run("walked from A", func(t *testing.T) {
			rooms := hierarchy(alice, space, "")
			wantRooms(t, rooms, space, onA, onB, secret)
			if got := roomField(rooms, onB, "name"); got != "child on B" {
				t.Errorf("the child on B is named %v, want the name B gave", got)
			}
			if state, _ := rooms[0]["children_state"].([]any); len(state) != 3 {
				t.Errorf("the space lists %d children, want 3: %v", len(state), rooms[0])
			}
			if rooms[0]["room_type"] != "m.space" || rooms[0]["join_rule"] != "public" || rooms[0]["room_version"] == nil {
				t.Errorf("space summary lacks fields: %v", rooms[0])
			}
		})
		t.Run("walked from B", func(t *testing.T) {
			rooms := hierarchy(bob, space, "")
			wantRooms(t, rooms, space, onA, onB)
			if got := roomField(rooms, onA, "topic"); got != "lives on A" {
				t.Errorf("the child on A has topic %v, want the one A gave", got)
			}
			wantRooms(t, hierarchy(bob, space, "suggested_only=true"), space, onB)
			wantRooms(t, hierarchy(bob, space, "max_depth=0"), space)
		})
		t.Run("pages", func(t *testing.T) {
			first := bob.v1(http.MethodGet, "/rooms/"+url.PathEscape(space)+"/hierarchy?limit=2")
			next := str(first, "next_batch")
			wantRooms(t, listOf(first, "rooms"), space, onA)
			if next == "" {
				t.Fatalf("first page has no next_batch: %v", first)
			}
			second := bob.v1(http.MethodGet, "/rooms/"+url.PathEscape(space)+"/hierarchy?limit=2&from="+url.QueryEscape(next))
			wantRooms(t, listOf(second, "rooms"), onB)
			if str(second, "next_batch") != "" {
				t.Errorf("last page has a next_batch: %v", second)
			}
			bad := bob.s.Do("GET", clientV1+"/rooms/"+url.PathEscape(space)+"/hierarchy?suggested_only=true&from="+url.QueryEscape(next), nil, bob.token)
			want(t, bad, http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("errors", func(t *testing.T) {
			base := clientV1 + "/rooms/"
			for _, q := range []string{"limit=0", "limit=x", "max_depth=-1", "suggested_only=maybe", "from=garbage"} {
				want(t, bob.s.Do("GET", base+url.PathEscape(space)+"/hierarchy?"+q, nil, bob.token), http.StatusBadRequest, "M_INVALID_PARAM")
			}
			want(t, bob.s.Do("GET", base+url.PathEscape(secret)+"/hierarchy", nil, bob.token), http.StatusForbidden, "M_FORBIDDEN")
			want(t, bob.s.Do("GET", base+url.PathEscape(space)+"/hierarchy", nil, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
		t.Run("federation hierarchy as B asks it", func(t *testing.T) {
			fed := harness.FederationHTTPClient(t)
			keyID, priv := readSigningKey(t, b)
			path := "/_matrix/federation/v1/hierarchy/" + url.PathEscape(space)
			got := want(t, sendFed(t, fed, a, "GET", path, nil, xMatrix(t, "GET", path, b.Name, a.Name, nil, keyID, priv)), http.StatusOK, "")
			room, _ := got["room"].(map[string]any)
			children, _ := got["inaccessible_children"].([]any)
			// A is not in the child on B: it describes only its own rooms.
			if str(room, "room_id") != space || !slices.Equal(roomIDs(listOf(got, "children")), []string{onA}) || !slices.Equal(children, []any{secret}) {
				t.Errorf("A's answer to B: %v", got)
			}
			secretPath := "/_matrix/federation/v1/hierarchy/" + url.PathEscape(secret)
			want(t, sendFed(t, fed, a, "GET", secretPath, nil, xMatrix(t, "GET", secretPath, b.Name, a.Name, nil, keyID, priv)), http.StatusNotFound, "M_NOT_FOUND")
			want(t, sendFed(t, fed, a, "GET", path, nil, ""), http.StatusUnauthorized, "M_UNAUTHORIZED")
		})
		t.Run("a real client", func(t *testing.T) {
			carol := mautrixUser(t, b, "carol")
			one := 1
			page, err := carol.Hierarchy(t.Context(), id.RoomID(space), &mautrix.ReqHierarchy{Limit: 2, MaxDepth: &one})
			if err != nil || len(page.Rooms) != 2 || page.Rooms[0].RoomID != id.RoomID(space) || page.Rooms[1].Name != "child on A" || page.NextBatch == "" {
				t.Fatalf("Hierarchy: %+v %v", page, err)
			}
			if len(page.Rooms[0].ChildrenState) != 3 || page.Rooms[0].ChildrenState[0].Type != event.StateSpaceChild {
				t.Errorf("children_state as a client reads it: %+v", page.Rooms[0].ChildrenState)
			}
			rest, err := carol.Hierarchy(t.Context(), id.RoomID(space), &mautrix.ReqHierarchy{From: page.NextBatch, Limit: 2, MaxDepth: &one})
			if err != nil || len(rest.Rooms) != 1 || rest.Rooms[0].RoomID != id.RoomID(onB) {
				t.Errorf("second page: %+v %v", rest, err)
			}
			// With v1.15 advertised, the client uses the stable room_summary.
			if _, err := carol.Versions(t.Context()); err != nil {
				t.Fatal(err)
			}
			summary, err := carol.GetRoomSummary(t.Context(), onA, a.Name)
			if err != nil || summary.Name != "child on A" || summary.Membership != event.MembershipLeave {
				t.Errorf("GetRoomSummary of A's room: %+v %v", summary, err)
			}
			dir, err := carol.PublicRooms(t.Context(), &mautrix.ReqPublicRooms{Server: a.Name, Limit: 10})
			if err != nil || len(dir.Chunk) != 2 {
				t.Errorf("PublicRooms of A: %+v %v", dir, err)
			}
		})
		t.Run("room summary", func(t *testing.T) {
			path := "/room_summary/" + url.PathEscape(onA) + "?via=" + url.QueryEscape(a.Name)
			got := bob.v1(http.MethodGet, path)
			if str(got, "name") != "child on A" || str(got, "membership") != "leave" || str(got, "join_rule") != "public" || got["num_joined_members"] != float64(1) {
				t.Errorf("summary of A's room from B: %v", got)
			}
			anon := want(t, b.Do("GET", clientV1+path, nil, ""), http.StatusOK, "")
			if str(anon, "name") != "child on A" || anon["membership"] != nil {
				t.Errorf("summary without a token: %v", anon)
			}
			if got := bob.v1(http.MethodGet, "/room_summary/"+url.PathEscape(space)); str(got, "membership") != "join" || str(got, "room_type") != "m.space" {
				t.Errorf("summary of the joined space: %v", got)
			}
			secretPath := clientV1 + "/room_summary/" + url.PathEscape(secret) + "?via=" + url.QueryEscape(a.Name)
			want(t, b.Do("GET", secretPath, nil, bob.token), http.StatusNotFound, "M_NOT_FOUND")
			want(t, a.Do("GET", secretPath, nil, ""), http.StatusNotFound, "M_NOT_FOUND")
			if got := want(t, a.Do("GET", secretPath, nil, alice.token), http.StatusOK, ""); str(got, "membership") != "join" {
				t.Errorf("alice's summary of her private room: %v", got)
			}
		})
		t.Run("public rooms of another server", func(t *testing.T) {
			got := bob.ok("GET", "/publicRooms?server="+url.QueryEscape(a.Name), nil)
			if ids := roomIDs(listOf(got, "chunk")); !slices.Contains(ids, onA) || !slices.Contains(ids, space) || slices.Contains(ids, secret) {
				t.Errorf("A's directory through B: %v", ids)
			}
			filtered := bob.ok("POST", "/publicRooms?server="+url.QueryEscape(a.Name), map[string]any{"filter": map[string]any{"generic_search_term": "child on"}})
			if ids := roomIDs(listOf(filtered, "chunk")); !slices.Equal(ids, []string{onA}) {
				t.Errorf("A's directory filtered through B: %v, want only %s", ids, onA)
			}
			paged := bob.ok("GET", "/publicRooms?limit=1&server="+url.QueryEscape(a.Name), nil)
			if len(listOf(paged, "chunk")) != 1 || str(paged, "next_batch") == "" {
				t.Errorf("a page of one: %v", paged)
			}
		})
	})
}

// addChild makes child a child of space.
func addChild(u roomUser, space, child, via, order string, suggested bool) {
	u.t.Helper()
	u.ok("PUT", roomPath(space, "/state/m.space.child/"+url.PathEscape(child)),
		map[string]any{"via": []string{via}, "order": order, "suggested": suggested})
}

// v1 sends an authenticated /_matrix/client/v1 request that must succeed.
func (u roomUser) v1(method, path string) map[string]any {
	u.t.Helper()
	return want(u.t, u.s.Do(method, clientV1+path, nil, u.token), http.StatusOK, "")
}

// hierarchy is the first page of a space's hierarchy.
func hierarchy(u roomUser, space, query string) []map[string]any {
	u.t.Helper()
	return listOf(u.v1(http.MethodGet, "/rooms/"+url.PathEscape(space)+"/hierarchy?"+query), "rooms")
}

func listOf(body map[string]any, key string) []map[string]any {
	list, _ := body[key].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	return out
}

func roomIDs(rooms []map[string]any) []string {
	var ids []string
	for _, r := range rooms {
		ids = append(ids, str(r, "room_id"))
	}
	return ids
}

func wantRooms(t *testing.T, rooms []map[string]any, ids ...string) {
	t.Helper()
	if got := roomIDs(rooms); !slices.Equal(got, ids) {
		t.Errorf("rooms %v, want %v", got, ids)
	}
}

func roomField(rooms []map[string]any, roomID, key string) any {
	for _, r := range rooms {
		if r["room_id"] == roomID {
			return r[key]
		}
	}
	return nil
}
