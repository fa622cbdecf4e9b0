package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

func visibilityPath(roomID string) string { return "/directory/list/room/" + url.PathEscape(roomID) }

// publicRoomIDs lists the room IDs of a /publicRooms chunk, in order.
func publicRoomIDs(body map[string]any) []string {
	chunk, _ := body["chunk"].([]any)
	var ids []string
	for _, c := range chunk {
		room, _ := c.(map[string]any)
		ids = append(ids, str(room, "room_id"))
	}
	return ids
}

func publicEntry(t *testing.T, body map[string]any, roomID string) map[string]any {
	t.Helper()
	chunk, _ := body["chunk"].([]any)
	for _, c := range chunk {
		if room, _ := c.(map[string]any); str(room, "room_id") == roomID {
			return room
		}
	}
	t.Fatalf("room %s not in the directory: %v", roomID, body)
	return nil
}

// TestPublicRoomDirectory: /createRoom with visibility public publishes a
// room; a moderator publishes and withdraws another; the directory lists
// them largest first with their state, without a token, filtered by
// search term and room type, page by page.
func TestPublicRoomDirectory(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		tea := alice.createRoom(map[string]any{"visibility": "public", "name": "Tea Room", "topic": "All about tea", "room_alias_name": "tea"})
		bob.ok("POST", roomPath(tea, "/join"), map[string]any{})
		quiet := alice.createRoom(map[string]any{"preset": "public_chat", "name": "Quiet"})
		space := alice.createRoom(map[string]any{"visibility": "public", "name": "A space", "creation_content": map[string]any{"type": "m.space"}})
		if v := str(alice.ok("GET", visibilityPath(quiet), nil), "visibility"); v != "private" {
			t.Errorf("unpublished room's visibility %q", v)
		}
		alice.ok("PUT", visibilityPath(quiet), map[string]any{"visibility": "public"})
		if anon := s.Do("GET", clientV3+visibilityPath(quiet), nil, ""); anon.Status != http.StatusOK || str(anon.JSON(t), "visibility") != "public" {
			t.Errorf("GET visibility without a token: %d %s", anon.Status, anon.Body)
		}

		all := want(t, s.Do("GET", clientV3+"/publicRooms", nil, ""), http.StatusOK, "")
		if ids := publicRoomIDs(all); len(ids) != 3 || ids[0] != tea {
			t.Fatalf("directory %v: want 3 rooms, the two-member one first", ids)
		}
		if n, _ := all["total_room_count_estimate"].(float64); n != 3 {
			t.Errorf("total_room_count_estimate %v", all["total_room_count_estimate"])
		}
		entry := publicEntry(t, all, tea)
		wantFields := map[string]any{"name": "Tea Room", "topic": "All about tea", "canonical_alias": "#tea:" + s.Name,
			"num_joined_members": 2.0, "world_readable": false, "guest_can_join": false, "join_rule": "public"}
		for k, v := range wantFields {
			if entry[k] != v {
				t.Errorf("entry %s = %v, want %v", k, entry[k], v)
			}
		}
		if str(publicEntry(t, all, space), "room_type") != "m.space" {
			t.Errorf("space entry: %v", publicEntry(t, all, space))
		}

		search := bob.ok("POST", "/publicRooms", map[string]any{"filter": map[string]any{"generic_search_term": "TEA"}})
		if ids := publicRoomIDs(search); len(ids) != 1 || ids[0] != tea {
			t.Errorf("search for tea: %v", ids)
		}
		spaces := bob.ok("POST", "/publicRooms", map[string]any{"filter": map[string]any{"room_types": []any{"m.space"}}})
		if ids := publicRoomIDs(spaces); len(ids) != 1 || ids[0] != space {
			t.Errorf("spaces: %v", ids)
		}
		untyped := bob.ok("POST", "/publicRooms", map[string]any{"filter": map[string]any{"room_types": []any{nil}}})
		if ids := publicRoomIDs(untyped); len(ids) != 2 {
			t.Errorf("untyped rooms: %v", ids)
		}

		// Pages of one: the tokens walk the whole directory both ways.
		seen := map[string]bool{}
		since, last := "", map[string]any{}
		for range 3 {
			page := bob.ok("POST", "/publicRooms", map[string]any{"limit": 1, "since": since})
			ids := publicRoomIDs(page)
			if len(ids) != 1 || seen[ids[0]] {
				t.Fatalf("page after %q: %v", since, ids)
			}
			seen[ids[0]], since, last = true, str(page, "next_batch"), page
		}
		if since != "" {
			t.Errorf("last page has next_batch %q", since)
		}
		prev := want(t, s.Do("GET", clientV3+"/publicRooms?limit=1&since="+url.QueryEscape(str(last, "prev_batch")), nil, ""), http.StatusOK, "")
		if ids := publicRoomIDs(prev); len(ids) != 1 || !seen[ids[0]] || str(prev, "next_batch") == "" {
			t.Errorf("previous page: %v", prev)
		}

		alice.ok("PUT", visibilityPath(quiet), map[string]any{"visibility": "private"})
		if ids := publicRoomIDs(alice.ok("GET", "/publicRooms?server="+url.QueryEscape(s.Name), nil)); len(ids) != 2 {
			t.Errorf("after withdrawing a room: %v", ids)
		}
	})
}

// TestPublicRoomDirectoryErrors: unknown rooms, missing power, bad bodies,
// bad tokens, missing access tokens, other servers; a server admin may
// publish a room they are not in.
func TestPublicRoomDirectoryErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "eve")
		roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
		bob.ok("POST", roomPath(roomID, "/join"), map[string]any{})
		unknown := "!unknown:" + s.Name
		alice.wantErr(alice.do("GET", visibilityPath(unknown), nil), http.StatusNotFound, "M_NOT_FOUND")
		alice.wantErr(alice.do("PUT", visibilityPath(unknown), map[string]any{"visibility": "public"}), http.StatusNotFound, "M_NOT_FOUND")
		alice.wantErr(alice.do("GET", visibilityPath("not-a-room"), nil), http.StatusBadRequest, "M_INVALID_PARAM")
		eve.wantErr(eve.do("PUT", visibilityPath(roomID), map[string]any{"visibility": "public"}), http.StatusForbidden, "M_FORBIDDEN")
		bob.wantErr(bob.do("PUT", visibilityPath(roomID), map[string]any{"visibility": "public"}), http.StatusForbidden, "M_FORBIDDEN")
		// bob's room, where he lowered his own level below what the
		// canonical alias needs: as its creator he may still publish it.
		bobs := bob.createRoom(map[string]any{"room_version": "11"})
		pl := stateContent(bob, bobs, "m.room.power_levels", "")
		pl["users"].(map[string]any)[bob.id] = 60
		pl["events"].(map[string]any)["m.room.canonical_alias"] = 100
		bob.ok("PUT", roomPath(bobs, "/state/m.room.power_levels/"), pl)
		bob.ok("PUT", visibilityPath(bobs), map[string]any{"visibility": "public"})
		bob.ok("PUT", visibilityPath(bobs), map[string]any{"visibility": "private"})
		alice.wantErr(alice.do("PUT", visibilityPath(roomID), map[string]any{"visibility": "secret"}), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("PUT", visibilityPath(roomID), []byte("not json")), http.StatusBadRequest, "M_NOT_JSON")
		want(t, s.Do("PUT", clientV3+visibilityPath(roomID), map[string]any{"visibility": "public"}, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
		want(t, s.Do("POST", clientV3+"/publicRooms", map[string]any{}, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
		if v := str(alice.ok("GET", visibilityPath(roomID), nil), "visibility"); v != "private" {
			t.Errorf("refused changes published the room: %q", v)
		}
		// Another server's directory is asked of it: a name that is no
		// server name is refused, one that cannot be reached (a closed
		// loopback port; no lookup leaves the machine) fails as a gateway.
		alice.wantErr(alice.do("GET", "/publicRooms?server="+url.QueryEscape("not a server"), nil), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("POST", "/publicRooms?server="+url.QueryEscape("not a server"), map[string]any{}), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("GET", "/publicRooms?server=127.0.0.1:1", nil), http.StatusBadGateway, "M_UNKNOWN")
		alice.wantErr(alice.do("GET", "/publicRooms?since=bogus", nil), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("GET", "/publicRooms?limit=many", nil), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("POST", "/publicRooms", map[string]any{"limit": "ten"}), http.StatusBadRequest, "M_BAD_JSON")
		alice.wantErr(alice.do("POST", "/publicRooms", []byte("[]")), http.StatusBadRequest, "M_NOT_JSON")

		s.RegisterUser("admin", "admin-password", true)
		admin := roomUser{t: t, s: s, id: "@admin:" + s.Name, token: s.Login("admin", "admin-password")}
		admin.ok("PUT", visibilityPath(roomID), map[string]any{})
		if ids := publicRoomIDs(eve.ok("GET", "/publicRooms", nil)); len(ids) != 1 || ids[0] != roomID {
			t.Errorf("room published by an admin (default visibility public): %v", ids)
		}
	})
}
