package clientapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

// TestPublicRoomsOfAnotherServer: the server parameter sends the query to
// that server; its answer is passed on, cut to the page size asked, and
// its refusals and malformed answers become Matrix errors.
func TestPublicRoomsOfAnotherServer(t *testing.T) {
	remote := &fakeRemoteDirectory{directory: func(server string) (json.RawMessage, error) {
		switch server {
		case "refuses.example":
			return nil, mxcore.Forbidden("no")
		case "broken.example":
			return json.RawMessage(`{"chunk":"nope"}`), nil
		}
		var rooms []string
		for i := 0; i < 5; i++ {
			rooms = append(rooms, fmt.Sprintf(`{"room_id":"!r%d:%s","num_joined_members":%d,"world_readable":false,"guest_can_join":false}`, i, server, 5-i))
		}
		return json.RawMessage(`{"chunk":[` + strings.Join(rooms, ",") + `],"next_batch":"theirs","total_room_count_estimate":9}`), nil
	}}
	e := newSyncEnvWith(t, func(a *API) { a.RemoteDirectory = remote })
	got := e.do("GET", "/_matrix/client/v3/publicRooms?server=remote.example&limit=3&since=s1", nil, "").want(t, http.StatusOK, "")
	chunk, _ := got.body["chunk"].([]any)
	if len(chunk) != 3 || got.str("next_batch") != "theirs" || got.body["total_room_count_estimate"] != float64(9) {
		t.Errorf("page %v", got.body)
	}
	if remote.bodies[0] != `{"limit":3,"since":"s1"}` {
		t.Errorf("asked %s", remote.bodies[0])
	}
	post := e.do("POST", "/_matrix/client/v3/publicRooms?server=remote.example", map[string]any{"filter": map[string]any{"generic_search_term": "x"}}, e.bobToken).want(t, http.StatusOK, "")
	if chunk, _ := post.body["chunk"].([]any); len(chunk) != 5 {
		t.Errorf("POST page %v", post.body)
	}
	if remote.bodies[1] != `{"limit":100,"filter":{"generic_search_term":"x","room_types":null}}` {
		t.Errorf("POST asked %s", remote.bodies[1])
	}
	e.do("GET", "/_matrix/client/v3/publicRooms?server=refuses.example", nil, "").want(t, http.StatusForbidden, "M_FORBIDDEN")
	e.do("GET", "/_matrix/client/v3/publicRooms?server=broken.example", nil, "").want(t, http.StatusBadGateway, "M_UNKNOWN")
	e.do("GET", "/_matrix/client/v3/publicRooms?server="+"bad%20name", nil, "").want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	// This server's own name lists the local directory without asking anyone.
	before := len(remote.bodies)
	e.do("GET", "/_matrix/client/v3/publicRooms?server="+testServer, nil, "").want(t, http.StatusOK, "")
	if len(remote.bodies) != before {
		t.Error("the local directory was asked of another server")
	}
}
