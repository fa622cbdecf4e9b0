package federation

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestSendJoinServersInRoom: send_join v2 always names the servers in
// the room before the join, and answers the full state whether or not
// the joining server offers to take one without members (omit_members),
// saying so with members_omitted false.
func TestSendJoinServersInRoom(t *testing.T) {
	for _, query := range []string{"", "?omit_members=true", "?omit_members=false"} {
		t.Run(query, func(t *testing.T) {
			w := newMemberWorld(t, residentServer, joiningServer, "third.test")
			res, join, third := w.servers[residentServer], w.servers[joiningServer], w.servers["third.test"]
			roomID := res.createRoom(t, residentUser, "public_chat")
			if err := third.m.Join(t.Context(), "@carol:third.test", roomID, []string{residentServer}, nil); err != nil {
				t.Fatal(err)
			}
			ev, _, err := join.m.makeAndSign(t.Context(), residentServer, "join", joiningUser, roomID, nil)
			if err != nil {
				t.Fatal(err)
			}
			path := "/_matrix/federation/v2/send_join/" + url.PathEscape(roomID) + "/" + url.PathEscape(ev.EventID()) + query
			status, body := w.call(residentServer, joiningServer, "PUT", path, ev.JSON())
			if status != http.StatusOK {
				t.Fatalf("send_join: %d %s", status, body.Raw)
			}
			var servers []string
			_ = json.Unmarshal([]byte(body.Get("servers_in_room").Raw), &servers)
			if want := []string{residentServer, "third.test"}; !slices.Equal(servers, want) {
				t.Errorf("servers_in_room = %v, want %v (before the join)", servers, want)
			}
			if body.Get("members_omitted").Raw != "false" {
				t.Errorf("members_omitted = %s, want false", body.Get("members_omitted").Raw)
			}
			members := 0
			for _, e := range body.Get("state").Array() {
				if e.Get("type").Str == "m.room.member" {
					members++
				}
			}
			if members != 2 {
				t.Errorf("state has %d member events, want both members before the join", members)
			}
		})
	}
}

func TestJoinedServersIn(t *testing.T) {
	member := func(user, membership string) json.RawMessage {
		raw, _ := json.Marshal(map[string]any{"type": "m.room.member", "state_key": user, "content": map[string]string{"membership": membership}})
		return raw
	}
	state := []json.RawMessage{
		member("@a:b.test", "join"), member("@b:a.test", "join"), member("@c:b.test", "join"),
		member("@d:c.test", "leave"), member("@e:d.test", "invite"), member("not a user", "join"),
		json.RawMessage(`{"type":"m.room.name","state_key":"@f:e.test","content":{"membership":"join"}}`),
	}
	if got, want := joinedServersIn(state), []string{"a.test", "b.test"}; !slices.Equal(got, want) {
		t.Errorf("joinedServersIn = %v, want %v", got, want)
	}
	if got := joinedServersIn(nil); got == nil || len(got) != 0 {
		t.Errorf("joinedServersIn(nil) = %#v, want an empty list", got)
	}
}
