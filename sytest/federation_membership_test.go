package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestFederatedMembership: three servers on loopback, federating over TLS
// with the test CA. A user of B joins rooms of A by room ID and by alias
// (the alias resolved through A's directory) and is refused a room A's
// rules keep closed; A's user invites a user of C, who sees the invite
// in /sync and joins through it, and another user of C rejects one,
// sees one /createRoom sends and knocks; B's user leaves again. What each server's clients see is what the joins,
// leaves and invites alone make true: messages between servers need the
// outbound sender.
func TestFederatedMembership(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b, c := startFederating(t, backend), startFederating(t, backend), startFederating(t, backend)
		alice, bob, carol, dave := newRoomUser(t, a, "alice"), newRoomUser(t, b, "bob"), newRoomUser(t, c, "carol"), newRoomUser(t, c, "dave")
		byID := alice.createRoom(map[string]any{"preset": "public_chat", "name": "by id"})
		byAlias := alice.createRoom(map[string]any{"preset": "public_chat", "name": "by alias", "room_alias_name": "fed"})
		closed := alice.createRoom(map[string]any{"preset": "private_chat", "name": "closed"})

		t.Run("join by room ID", func(t *testing.T) {
			resp := bob.ok("POST", "/join/"+url.PathEscape(byID)+"?via="+url.QueryEscape(a.Name), map[string]any{})
			if str(resp, "room_id") != byID {
				t.Fatalf("join answered %v", resp)
			}
			checkJoinedOverFederation(t, bob, alice, byID, "by id")
		})
		t.Run("join by alias", func(t *testing.T) {
			alias := "#fed:" + a.Name
			resp := bob.ok("POST", "/join/"+url.PathEscape(alias), map[string]any{})
			if str(resp, "room_id") != byAlias {
				t.Fatalf("join by alias answered %v, want room %s", resp, byAlias)
			}
			checkJoinedOverFederation(t, bob, alice, byAlias, "by alias")
			bob.wantErr(bob.do("POST", "/join/"+url.PathEscape("#nonesuch:"+a.Name), map[string]any{}), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("directory lookup of a remote alias", func(t *testing.T) {
			resp := bob.ok("GET", "/directory/room/"+url.PathEscape("#fed:"+a.Name), nil)
			servers, _ := resp["servers"].([]any)
			if str(resp, "room_id") != byAlias || !containsValue(servers, a.Name) {
				t.Errorf("directory answered %v", resp)
			}
			bob.wantErr(bob.do("GET", "/directory/room/"+url.PathEscape("#nonesuch:"+a.Name), nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("restricted room joined as a member of the allowed room", func(t *testing.T) {
			allow := []map[string]any{{"type": "m.room.join_rules", "state_key": "", "content": map[string]any{
				"join_rule": "restricted", "allow": []map[string]any{{"type": "m.room_membership", "room_id": byID}}}}}
			restricted := alice.createRoom(map[string]any{"preset": "private_chat", "name": "restricted", "initial_state": allow})
			// Room IDs of version 12 name no server: the client says where.
			bob.ok("POST", "/join/"+url.PathEscape(restricted)+"?via="+url.QueryEscape(a.Name), map[string]any{})
			checkJoinedOverFederation(t, bob, alice, restricted, "restricted")
		})
		t.Run("closed room refuses", func(t *testing.T) {
			bob.wantErr(bob.do("POST", "/join/"+url.PathEscape(closed)+"?via="+url.QueryEscape(a.Name), map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
			if containsValue(bob.joinedRooms(), closed) {
				t.Error("refused room listed as joined")
			}
		})
		t.Run("invite a user of another server", func(t *testing.T) {
			alice.ok("POST", roomPath(closed, "/invite"), map[string]any{"user_id": carol.id})
			invite := syncRoom(syncNow(t, carol), "invite", closed)
			if invite == nil {
				t.Fatal("carol's /sync shows no invite")
			}
			if !strippedHas(invite, "m.room.name", "") || !strippedHas(invite, "m.room.member", carol.id) {
				t.Errorf("invite_state lacks the room name or the invite: %v", invite)
			}
			if memberOf(t, alice, closed, carol.id) != "invite" {
				t.Error("A does not list carol as invited")
			}
			carol.ok("POST", roomPath(closed, "/join"), map[string]any{})
			checkJoinedOverFederation(t, carol, alice, closed, "closed")
			if syncRoom(syncNow(t, carol), "invite", closed) != nil {
				t.Error("the invite is still listed after joining")
			}
		})
		t.Run("reject an invite", func(t *testing.T) {
			alice.ok("POST", roomPath(byAlias, "/invite"), map[string]any{"user_id": dave.id})
			before := syncNow(t, dave)
			if syncRoom(before, "invite", byAlias) == nil {
				t.Fatal("dave's /sync shows no invite")
			}
			dave.ok("POST", roomPath(byAlias, "/leave"), map[string]any{})
			if syncRoom(syncNow(t, dave), "invite", byAlias) != nil {
				t.Error("the rejected invite is still listed")
			}
			since := dave.ok("GET", "/sync?timeout=0&since="+url.QueryEscape(str(before, "next_batch")), nil)
			if syncRoom(since, "leave", byAlias) == nil {
				t.Error("an incremental /sync does not report the rejection as a left room")
			}
			if got := memberOf(t, alice, byAlias, dave.id); got != "leave" {
				t.Errorf("A has dave as %q after the rejection, want leave", got)
			}
		})
		t.Run("createRoom invites a remote user", func(t *testing.T) {
			roomID := alice.createRoom(map[string]any{"preset": "private_chat", "name": "made for dave", "invite": []string{dave.id}})
			if syncRoom(syncNow(t, dave), "invite", roomID) == nil {
				t.Error("dave's /sync shows no invite into the new room")
			}
		})
		t.Run("knock", func(t *testing.T) {
			knockRule := []map[string]any{{"type": "m.room.join_rules", "state_key": "", "content": map[string]any{"join_rule": "knock"}}}
			roomID := alice.createRoom(map[string]any{"preset": "private_chat", "name": "knock", "initial_state": knockRule})
			dave.wantErr(dave.do("POST", "/knock/"+url.PathEscape(byID)+"?via="+url.QueryEscape(a.Name), map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
			resp := dave.ok("POST", "/knock/"+url.PathEscape(roomID)+"?via="+url.QueryEscape(a.Name), map[string]any{"reason": "hello"})
			if str(resp, "room_id") != roomID {
				t.Errorf("knock answered %v", resp)
			}
			if got := memberOf(t, alice, roomID, dave.id); got != "knock" {
				t.Errorf("A has dave as %q after his knock", got)
			}
		})
		t.Run("a remote member leaves", func(t *testing.T) {
			bob.ok("POST", roomPath(byID, "/leave"), map[string]any{})
			if got := memberOf(t, alice, byID, bob.id); got != "leave" {
				t.Errorf("A has bob as %q after his leave, want leave", got)
			}
			if containsValue(bob.joinedRooms(), byID) {
				t.Error("B still lists the room as joined")
			}
		})
	})
}

// checkJoinedOverFederation: the joiner's server knows the room with its
// state and the joiner's join, and the resident server lists the joiner.
func checkJoinedOverFederation(t *testing.T, joiner, resident roomUser, roomID, name string) {
	t.Helper()
	if !containsValue(joiner.joinedRooms(), roomID) {
		t.Fatalf("%s's joined_rooms lacks %s", joiner.id, roomID)
	}
	room := syncRoom(syncNow(t, joiner), "join", roomID)
	if room == nil {
		t.Fatalf("%s's /sync lacks the joined room", joiner.id)
	}
	if !syncStateHas(room, "m.room.create", "") || !syncStateHas(room, "m.room.member", joiner.id) {
		t.Errorf("the joined room's sync lacks its create event or the join: %v", room)
	}
	got := joiner.ok("GET", roomPath(roomID, "/state/m.room.name"), nil)
	if str(got, "name") != name {
		t.Errorf("room name on the joiner's server: %v, want %q", got, name)
	}
	if m := memberOf(t, resident, roomID, joiner.id); m != "join" {
		t.Errorf("the resident server has %s as %q, want join", joiner.id, m)
	}
	if m := memberOf(t, joiner, roomID, resident.id); m != "join" {
		t.Errorf("the joiner's server has %s as %q, want join", resident.id, m)
	}
}

// syncNow is an initial /sync that returns at once.
func syncNow(t *testing.T, u roomUser) map[string]any {
	t.Helper()
	return u.ok("GET", "/sync?timeout=0", nil)
}

// memberOf is userID's membership of the room as u's server has it.
func memberOf(t *testing.T, u roomUser, roomID, userID string) string {
	t.Helper()
	chunk, _ := u.ok("GET", roomPath(roomID, "/members"), nil)["chunk"].([]any)
	for _, e := range chunk {
		ev, _ := e.(map[string]any)
		if ev["state_key"] == userID {
			content, _ := ev["content"].(map[string]any)
			m, _ := content["membership"].(string)
			return m
		}
	}
	return ""
}

// syncStateHas reports whether a joined room's state or timeline holds
// the state event (typ, stateKey).
func syncStateHas(room map[string]any, typ, stateKey string) bool {
	for _, section := range []string{"state", "timeline"} {
		s, _ := room[section].(map[string]any)
		if eventsHave(s, typ, stateKey) {
			return true
		}
	}
	return false
}

// strippedHas reports whether an invited room's invite_state holds
// (typ, stateKey).
func strippedHas(invite map[string]any, typ, stateKey string) bool {
	s, _ := invite["invite_state"].(map[string]any)
	return eventsHave(s, typ, stateKey)
}

func eventsHave(section map[string]any, typ, stateKey string) bool {
	events, _ := section["events"].([]any)
	for _, e := range events {
		ev, _ := e.(map[string]any)
		if ev["type"] == typ && ev["state_key"] == stateKey {
			return true
		}
	}
	return false
}
