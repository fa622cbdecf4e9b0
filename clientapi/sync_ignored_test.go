package clientapi

import (
	"net/http"
	"testing"
)

// TestSyncLeavesOutIgnoredUsers: after alice ignores bob, his messages
// and invites stop reaching her /sync, his state events still do.
func TestSyncLeavesOutIgnoredUsers(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	e.do("PUT", "/_matrix/client/v3/user/"+e.alice+"/account_data/m.ignored_user_list",
		map[string]any{"ignored_users": map[string]any{e.bob: map[string]any{}}}, e.aliceToken).want(t, http.StatusOK, "")
	e.message(room, e.bob, "from bob")
	e.message(room, e.alice, "from alice")
	bob := e.bob
	e.send(room, e.bob, "m.room.member", &bob, map[string]string{"membership": "join", "displayname": "Bobby"})
	other := e.createRoom(e.bob, e.alice) // bob invites alice

	r := e.sync(e.aliceToken, nil)
	joined := section(r, "join", room)
	if got := bodies(eventsAt(joined, "timeline")); len(got) != 1 || got[0] != "from alice" {
		t.Errorf("timeline bodies %v: bob's message must be left out", got)
	}
	if !hasEvent(eventsAt(joined, "timeline"), "m.room.member", e.bob) {
		t.Error("bob's state event must still be sent")
	}
	if section(r, "invite", other) != nil {
		t.Error("an invite from an ignored user was sent")
	}
	if got := bodies(eventsAt(section(e.sync(e.bobToken, nil), "join", room), "timeline")); len(got) != 2 {
		t.Errorf("bob's own view changed: %v", got)
	}
}
