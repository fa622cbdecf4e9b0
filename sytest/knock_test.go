package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

func knockRoomBody(rule string) map[string]any {
	return map[string]any{"name": "Knock knock", "initial_state": []any{
		map[string]any{"type": "m.room.join_rules", "state_key": "", "content": map[string]any{"join_rule": rule}},
	}}
}

// knockState returns the types and memberships of a room's knock_state.
func knockState(resp map[string]any, roomID string) map[string]string {
	room := syncRoom(resp, "knock", roomID)
	if room == nil {
		return nil
	}
	ks, _ := room["knock_state"].(map[string]any)
	events, _ := ks["events"].([]any)
	out := map[string]string{}
	for _, e := range events {
		ev, _ := e.(map[string]any)
		content, _ := ev["content"].(map[string]any)
		m, _ := content["membership"].(string)
		out[str(ev, "type")+"|"+str(ev, "state_key")] = m
	}
	return out
}

// TestKnock: knocking on a knock (and knock_restricted) room, by ID and
// by alias, shows the room in the knocker's /sync knock section with its
// stripped state and the knock, once; the room's members see the knock
// and can let the knocker in.
func TestKnock(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, carol := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "carol")
		body := knockRoomBody("knock")
		body["room_alias_name"] = "knock"
		roomID := alice.createRoom(body)
		since := syncToken(t, bob.ok("GET", "/sync", nil))

		if got := str(bob.ok("POST", "/knock/"+url.PathEscape(roomID), map[string]any{"reason": "let me in"}), "room_id"); got != roomID {
			t.Fatalf("knock answered room_id %q", got)
		}
		member := stateContent(alice, roomID, "m.room.member", bob.id)
		if str(member, "membership") != "knock" || str(member, "reason") != "let me in" {
			t.Errorf("bob's member event %v", member)
		}
		incremental := bob.ok("GET", "/sync?timeout=5000&since="+since, nil)
		ks := knockState(incremental, roomID)
		if ks["m.room.member|"+bob.id] != "knock" {
			t.Fatalf("knock_state %v lacks the knock", ks)
		}
		for _, slot := range []string{"m.room.name|", "m.room.join_rules|", "m.room.create|"} {
			if _, ok := ks[slot]; !ok {
				t.Errorf("knock_state lacks %s: %v", slot, ks)
			}
		}
		if knockState(bob.ok("GET", "/sync", nil), roomID) == nil {
			t.Error("initial sync lacks the knocked room")
		}
		next := syncToken(t, incremental)
		if knockState(bob.ok("GET", "/sync?timeout=0&since="+next, nil), roomID) != nil {
			t.Error("the knock repeated in a later incremental sync")
		}
		alice.ok("POST", roomPath(roomID, "/invite"), map[string]any{"user_id": bob.id})
		bob.ok("POST", roomPath(roomID, "/join"), map[string]any{})

		if got := str(carol.ok("POST", "/knock/"+url.PathEscape("#knock:"+s.Name), map[string]any{}), "room_id"); got != roomID {
			t.Errorf("knock by alias answered %q", got)
		}
		restricted := alice.createRoom(knockRoomBody("knock_restricted"))
		carol.ok("POST", "/knock/"+url.PathEscape(restricted), map[string]any{})
	})
}

// TestKnockErrors: rooms that do not allow knocking, members, banned
// users, unknown rooms and aliases, bad IDs, missing tokens.
func TestKnockErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "eve")
		knock := alice.createRoom(knockRoomBody("knock"))
		public := alice.createRoom(map[string]any{"preset": "public_chat"})
		private := alice.createRoom(map[string]any{})
		alice.ok("POST", roomPath(knock, "/ban"), map[string]any{"user_id": eve.id})
		path := func(target string) string { return "/knock/" + url.PathEscape(target) }
		bob.wantErr(bob.do("POST", path(public), map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
		bob.wantErr(bob.do("POST", path(private), map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
		alice.wantErr(alice.do("POST", path(knock), map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
		eve.wantErr(eve.do("POST", path(knock), map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
		bob.wantErr(bob.do("POST", path("!unknown:"+s.Name), map[string]any{}), http.StatusNotFound, "M_NOT_FOUND")
		bob.wantErr(bob.do("POST", path("#unknown:"+s.Name), map[string]any{}), http.StatusNotFound, "M_NOT_FOUND")
		bob.wantErr(bob.do("POST", path("nonsense"), map[string]any{}), http.StatusBadRequest, "M_INVALID_PARAM")
		bob.wantErr(bob.do("POST", path(knock), []byte("x")), http.StatusBadRequest, "M_NOT_JSON")
		want(t, s.Do("POST", clientV3+path(knock), map[string]any{}, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
		if m := str(stateContent(alice, knock, "m.room.member", eve.id), "membership"); m != "ban" {
			t.Errorf("a refused knock changed eve's membership to %q", m)
		}
	})
}
