package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

func stateContent(u roomUser, roomID, typ, stateKey string) map[string]any {
	u.t.Helper()
	return u.ok("GET", roomPath(roomID, "/state/"+typ+"/"+url.PathEscape(stateKey)), nil)
}

// TestRoomUpgrade: a v11 room upgraded to v12 gets a new room with its
// predecessor, name, topic, join rules, power levels (users' levels kept,
// the new creator not listed), bans and canonical alias; the alias and the
// directory listing move; the old room is tombstoned and quietened.
func TestRoomUpgrade(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, carol, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "carol"), newRoomUser(t, s, "eve")
		oldID := alice.createRoom(map[string]any{"room_version": "11", "visibility": "public", "name": "Old name",
			"topic": "Old topic", "room_alias_name": "up"})
		for _, u := range []roomUser{bob, carol, eve} {
			u.ok("POST", roomPath(oldID, "/join"), map[string]any{})
		}
		alice.ok("POST", roomPath(oldID, "/ban"), map[string]any{"user_id": eve.id})
		pl := stateContent(alice, oldID, "m.room.power_levels", "")
		pl["users"].(map[string]any)[bob.id] = 50
		alice.ok("PUT", roomPath(oldID, "/state/m.room.power_levels/"), pl)

		newID := str(alice.ok("POST", roomPath(oldID, "/upgrade"), map[string]any{"new_version": "12"}), "replacement_room")
		if newID == "" || newID == oldID {
			t.Fatalf("replacement_room %q", newID)
		}
		create := stateContent(alice, newID, "m.room.create", "")
		if pred, _ := create["predecessor"].(map[string]any); str(pred, "room_id") != oldID || str(create, "room_version") != "12" {
			t.Errorf("new create content %v", create)
		}
		if n := str(stateContent(alice, newID, "m.room.name", ""), "name"); n != "Old name" {
			t.Errorf("new name %q", n)
		}
		if n := str(stateContent(alice, newID, "m.room.topic", ""), "topic"); n != "Old topic" {
			t.Errorf("new topic %q", n)
		}
		if j := str(stateContent(alice, newID, "m.room.join_rules", ""), "join_rule"); j != "public" {
			t.Errorf("new join rule %q", j)
		}
		users, _ := stateContent(alice, newID, "m.room.power_levels", "")["users"].(map[string]any)
		if _, listed := users[alice.id]; listed || users[bob.id] != 50.0 {
			t.Errorf("new power level users %v: want bob at 50 and the v12 creator unlisted", users)
		}
		if m := str(stateContent(alice, newID, "m.room.member", eve.id), "membership"); m != "ban" {
			t.Errorf("eve's membership of the new room %q, want ban", m)
		}
		if a := str(stateContent(alice, newID, "m.room.canonical_alias", ""), "alias"); a != "#up:"+s.Name {
			t.Errorf("new canonical alias %q", a)
		}
		if got := str(alice.ok("GET", aliasPath("#up:"+s.Name), nil), "room_id"); got != newID {
			t.Errorf("alias resolves to %s, want the new room", got)
		}
		if v := str(alice.ok("GET", visibilityPath(newID), nil), "visibility"); v != "public" {
			t.Errorf("new room visibility %q", v)
		}
		if v := str(alice.ok("GET", visibilityPath(oldID), nil), "visibility"); v != "private" {
			t.Errorf("old room visibility %q", v)
		}

		if r := str(stateContent(alice, oldID, "m.room.tombstone", ""), "replacement_room"); r != newID {
			t.Errorf("tombstone replacement_room %q", r)
		}
		oldPL := stateContent(alice, oldID, "m.room.power_levels", "")
		if oldPL["events_default"] != 50.0 || oldPL["invite"] != 50.0 {
			t.Errorf("old power levels not restricted: %v", oldPL)
		}
		carol.wantErr(carol.do("PUT", roomPath(oldID, "/send/m.room.message/t1"), map[string]any{"msgtype": "m.text", "body": "hi"}), http.StatusForbidden, "M_FORBIDDEN")

		// v12 to v12 with an additional creator, who is then not listed.
		bob.ok("POST", roomPath(newID, "/join"), map[string]any{})
		thirdID := str(alice.ok("POST", roomPath(newID, "/upgrade"), map[string]any{"new_version": "12", "additional_creators": []string{bob.id}}), "replacement_room")
		create = stateContent(alice, thirdID, "m.room.create", "")
		if extra, _ := create["additional_creators"].([]any); len(extra) != 1 || extra[0] != bob.id {
			t.Errorf("additional_creators %v", create["additional_creators"])
		}
		users, _ = stateContent(alice, thirdID, "m.room.power_levels", "")["users"].(map[string]any)
		if _, listed := users[bob.id]; listed {
			t.Errorf("additional creator listed in users: %v", users)
		}

		// Before v12 the upgrader keeps their level (raised only while the
		// state is copied).
		v10 := alice.createRoom(map[string]any{"room_version": "10", "name": "Ten"})
		v11 := str(alice.ok("POST", roomPath(v10, "/upgrade"), map[string]any{"new_version": "11"}), "replacement_room")
		users, _ = stateContent(alice, v11, "m.room.power_levels", "")["users"].(map[string]any)
		if users[alice.id] != 100.0 || str(stateContent(alice, v11, "m.room.name", ""), "name") != "Ten" {
			t.Errorf("v10 to v11: users %v", users)
		}
	})
}

// TestRoomUpgradeErrors: missing power, non-members, unknown rooms and
// versions, bad bodies, missing tokens; refused upgrades change nothing.
func TestRoomUpgradeErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "eve")
		roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
		bob.ok("POST", roomPath(roomID, "/join"), map[string]any{})
		path := roomPath(roomID, "/upgrade")
		body := map[string]any{"new_version": "12"}
		bob.wantErr(bob.do("POST", path, body), http.StatusForbidden, "M_FORBIDDEN")
		eve.wantErr(eve.do("POST", path, body), http.StatusForbidden, "M_FORBIDDEN")
		alice.wantErr(alice.do("POST", roomPath("!unknown:"+s.Name, "/upgrade"), body), http.StatusForbidden, "M_FORBIDDEN")
		alice.wantErr(alice.do("POST", path, map[string]any{"new_version": "99"}), http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION")
		alice.wantErr(alice.do("POST", path, map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
		alice.wantErr(alice.do("POST", path, map[string]any{"new_version": 12}), http.StatusBadRequest, "M_BAD_JSON")
		alice.wantErr(alice.do("POST", path, map[string]any{"new_version": "12", "additional_creators": []string{"bob"}}), http.StatusBadRequest, "M_INVALID_PARAM")
		alice.wantErr(alice.do("POST", path, []byte("nope")), http.StatusBadRequest, "M_NOT_JSON")
		alice.wantErr(alice.do("POST", roomPath("bad", "/upgrade"), body), http.StatusBadRequest, "M_INVALID_PARAM")
		want(t, s.Do("POST", clientV3+path, body, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
		alice.wantErr(alice.do("GET", roomPath(roomID, "/state/m.room.tombstone/"), nil), http.StatusNotFound, "M_NOT_FOUND")
		alice.send(roomID, "t1", "still open")
	})
}
