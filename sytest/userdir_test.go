package sytest

import (
	"net/http"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// searchUsers returns the user IDs a search finds, and its limited flag.
func searchUsers(u roomUser, body map[string]any) ([]string, bool) {
	u.t.Helper()
	resp := u.ok("POST", "/user_directory/search", body)
	results, _ := resp["results"].([]any)
	var ids []string
	for _, r := range results {
		res, _ := r.(map[string]any)
		ids = append(ids, str(res, "user_id"))
	}
	limited, _ := resp["limited"].(bool)
	return ids, limited
}

// TestUserDirectorySearch: by default a user finds those they share a
// room with (by ID or display name, with profile fields) and members of
// published rooms, nobody else; limit and limited; request errors.
func TestUserDirectorySearch(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, carol, dave := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "carol"), newRoomUser(t, s, "dave")
		shared := alice.createRoom(map[string]any{"invite": []string{bob.id}})
		bob.ok("POST", roomPath(shared, "/join"), map[string]any{})
		bob.ok("PUT", "/profile/"+bob.id+"/displayname", map[string]any{"displayname": "Bobby Shared"})
		bob.ok("PUT", "/profile/"+bob.id+"/avatar_url", map[string]any{"avatar_url": "mxc://example.org/bob"})
		carol.createRoom(map[string]any{"visibility": "public"})
		dave.createRoom(map[string]any{"preset": "public_chat"}) // public, but not published

		resp := alice.ok("POST", "/user_directory/search", map[string]any{"search_term": "SHARED"})
		results, _ := resp["results"].([]any)
		if len(results) != 1 {
			t.Fatalf("search by display name: %v", resp)
		}
		if r, _ := results[0].(map[string]any); str(r, "user_id") != bob.id || str(r, "display_name") != "Bobby Shared" || str(r, "avatar_url") != "mxc://example.org/bob" {
			t.Errorf("result %v", r)
		}
		if ids, _ := searchUsers(alice, map[string]any{"search_term": "bob"}); len(ids) != 1 || ids[0] != bob.id {
			t.Errorf("search by user ID: %v", ids)
		}
		if ids, _ := searchUsers(alice, map[string]any{"search_term": "carol"}); len(ids) != 1 || ids[0] != carol.id {
			t.Errorf("member of a published room: %v", ids)
		}
		if ids, _ := searchUsers(alice, map[string]any{"search_term": "dave"}); len(ids) != 0 {
			t.Errorf("found a user sharing no room: %v", ids)
		}
		all, limited := searchUsers(bob, map[string]any{"search_term": ":"})
		if len(all) != 3 || limited || !containsValue([]any{all[0], all[1], all[2]}, alice.id) {
			t.Errorf("everyone bob may find: %v (limited %v)", all, limited)
		}
		if ids, limited := searchUsers(bob, map[string]any{"search_term": ":", "limit": 1}); len(ids) != 1 || !limited {
			t.Errorf("limit 1: %v (limited %v)", ids, limited)
		}
		alice.wantErr(alice.do("POST", "/user_directory/search", map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
		alice.wantErr(alice.do("POST", "/user_directory/search", map[string]any{"search_term": 5}), http.StatusBadRequest, "M_BAD_JSON")
		alice.wantErr(alice.do("POST", "/user_directory/search", []byte("x")), http.StatusBadRequest, "M_NOT_JSON")
		want(t, s.Do("POST", clientV3+"/user_directory/search", map[string]any{"search_term": "bob"}, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
	})
}

// TestUserDirectorySearchAllUsers: with user_directory.search_all_users a
// user finds local users they share nothing with.
func TestUserDirectorySearchAllUsers(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend, "WARBLER_USER_DIRECTORY__SEARCH_ALL_USERS=true")
		alice, dave := newRoomUser(t, s, "alice"), newRoomUser(t, s, "dave")
		if ids, _ := searchUsers(alice, map[string]any{"search_term": "dave"}); len(ids) != 1 || ids[0] != dave.id {
			t.Errorf("search_all_users: %v", ids)
		}
	})
}
