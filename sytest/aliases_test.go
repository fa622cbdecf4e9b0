package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

func aliasPath(alias string) string { return "/directory/room/" + url.PathEscape(alias) }

// TestRoomAliases: an alias made by a member resolves to its room and
// the room's servers, lists on the room, joins by alias, and is deleted
// by its creator or a moderator.
func TestRoomAliases(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
		tea := "#tea:" + s.Name
		alice.ok("PUT", aliasPath(tea), map[string]any{"room_id": roomID})
		got := alice.ok("GET", aliasPath(tea), nil)
		if servers, _ := got["servers"].([]any); str(got, "room_id") != roomID || !containsValue(servers, s.Name) {
			t.Errorf("GET alias: %v", got)
		}
		// Resolving an alias needs no access token.
		if anon := s.Do("GET", clientV3+aliasPath(tea), nil, ""); anon.Status != http.StatusOK || str(anon.JSON(t), "room_id") != roomID {
			t.Errorf("GET alias without a token: %d %s", anon.Status, anon.Body)
		}
		if aliases, _ := alice.ok("GET", roomPath(roomID, "/aliases"), nil)["aliases"].([]any); len(aliases) != 1 || aliases[0] != tea {
			t.Errorf("room aliases: %v", aliases)
		}
		if joined := bob.ok("POST", "/join/"+url.PathEscape(tea), map[string]any{}); str(joined, "room_id") != roomID {
			t.Errorf("join by alias: %v", joined)
		}
		// bob (power 0) may delete his own alias but not alice's; alice,
		// who may change the canonical alias, may delete his.
		bobs := "#bobs:" + s.Name
		bob.ok("PUT", aliasPath(bobs), map[string]any{"room_id": roomID})
		bob.wantErr(bob.do("DELETE", aliasPath(tea), nil), http.StatusForbidden, "M_FORBIDDEN")
		alice.ok("DELETE", aliasPath(bobs), nil)
		alice.ok("DELETE", aliasPath(tea), nil)
		alice.wantErr(alice.do("GET", aliasPath(tea), nil), http.StatusNotFound, "M_NOT_FOUND")
		alice.wantErr(alice.do("DELETE", aliasPath(tea), nil), http.StatusNotFound, "M_NOT_FOUND")
		if aliases, _ := alice.ok("GET", roomPath(roomID, "/aliases"), nil)["aliases"].([]any); len(aliases) != 0 {
			t.Errorf("room aliases after deletion: %v", aliases)
		}
		bob.ok("PUT", aliasPath(bobs), map[string]any{"room_id": roomID})
		bob.ok("DELETE", aliasPath(bobs), nil)
	})
}

// TestRoomAliasErrors: malformed and foreign aliases, taken aliases,
// non-members, unknown aliases.
func TestRoomAliasErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "eve")
		roomID := alice.createRoom(map[string]any{})
		tea := "#tea:" + s.Name
		body := map[string]any{"room_id": roomID}
		alice.wantErr(alice.do("PUT", aliasPath("tea"), body), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("PUT", aliasPath("#tea:elsewhere.example"), body), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("PUT", aliasPath(tea), map[string]any{"room_id": "nope"}), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("GET", aliasPath("tea"), nil), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("GET", aliasPath(tea), nil), http.StatusNotFound, "M_NOT_FOUND")
		alice.wantErr(alice.do("DELETE", aliasPath(tea), nil), http.StatusNotFound, "M_NOT_FOUND")
		eve.wantErr(eve.do("PUT", aliasPath(tea), body), http.StatusForbidden, "M_FORBIDDEN")
		alice.ok("PUT", aliasPath(tea), body)
		alice.wantErr(alice.do("PUT", aliasPath(tea), body), http.StatusConflict, "M_UNKNOWN")
		eve.wantErr(eve.do("GET", roomPath(roomID, "/aliases"), nil), http.StatusForbidden, "M_FORBIDDEN")
		eve.wantErr(eve.do("DELETE", aliasPath(tea), nil), http.StatusForbidden, "M_FORBIDDEN")
		eve.wantErr(eve.do("POST", "/join/"+url.PathEscape("#nope:"+s.Name), map[string]any{}), http.StatusNotFound, "M_NOT_FOUND")
		want(t, s.Do("PUT", clientV3+aliasPath(tea), body, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
	})
}

// TestCreateRoomWithAlias: room_alias_name makes a local alias that is the
// room's canonical alias; a taken name fails with M_ROOM_IN_USE.
func TestCreateRoomWithAlias(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice := newRoomUser(t, s, "alice")
		roomID := alice.createRoom(map[string]any{"room_alias_name": "lobby"})
		lobby := "#lobby:" + s.Name
		if got := alice.ok("GET", aliasPath(lobby), nil); str(got, "room_id") != roomID {
			t.Errorf("alias of the new room: %v", got)
		}
		if c := alice.ok("GET", roomPath(roomID, "/state/m.room.canonical_alias/"), nil); str(c, "alias") != lobby {
			t.Errorf("canonical alias: %v", c)
		}
		alice.wantErr(alice.do("POST", "/createRoom", map[string]any{"room_alias_name": "lobby"}), http.StatusBadRequest, "M_ROOM_IN_USE")
		if rooms := alice.joinedRooms(); len(rooms) != 1 {
			t.Errorf("a failed creation left a room: %v", rooms)
		}
	})
}

// m.room.canonical_alias may name local aliases that point to the room and
// nothing else (400 M_BAD_ALIAS). Before aliases were checked, every alias
// was refused.
func TestCanonicalAliasMustPointToTheRoom(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice := newRoomUser(t, s, "alice")
		roomID := alice.createRoom(map[string]any{"name": "Aliased"})
		other := alice.createRoom(map[string]any{"name": "Other"})
		mine, elsewhere := "#mine:"+s.Name, "#elsewhere:"+s.Name
		alice.ok("PUT", aliasPath(mine), map[string]any{"room_id": roomID})
		alice.ok("PUT", aliasPath(elsewhere), map[string]any{"room_id": other})
		statePath := roomPath(roomID, "/state/m.room.canonical_alias")
		alice.ok("PUT", statePath, map[string]any{"alias": mine})
		for _, bad := range []map[string]any{
			{"alias": elsewhere},
			{"alias": mine, "alt_aliases": []string{"#missing:" + s.Name}},
			{"alias": "#remote:example.org"},
		} {
			alice.wantErr(alice.do("PUT", statePath, bad), http.StatusBadRequest, "M_BAD_ALIAS")
		}
		alice.wantErr(alice.do("PUT", statePath, map[string]any{"alias": "not-an-alias"}), http.StatusBadRequest, "M_INVALID_PARAM")
		got := alice.ok("GET", statePath, nil)
		if got["alias"] != mine {
			t.Errorf("canonical alias after refused changes: %v", got)
		}
	})
}
