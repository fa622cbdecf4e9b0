package sytest

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestSyncRoomSummary: an unnamed room's /sync entry carries the member
// counts and the other members as heroes, and a join refreshes them.
func TestSyncRoomSummary(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"invite": []string{bob.id}})

		initial := alice.ok("GET", "/sync", nil)
		wantSummary(t, "initial", syncRoom(initial, "join", roomID), bob.id, 1, 1)
		bob.ok("POST", "/join/"+url.PathEscape(roomID), map[string]any{})
		resp := alice.ok("GET", "/sync?timeout=10000&since="+url.QueryEscape(syncToken(t, initial)), nil)
		wantSummary(t, "after bob joined", syncRoom(resp, "join", roomID), bob.id, 2, 0)
	})
}

func wantSummary(t *testing.T, what string, room map[string]any, hero string, joined, invited int) {
	t.Helper()
	raw, _ := json.Marshal(room["summary"])
	var got struct {
		Heroes  []string `json:"m.heroes"`
		Joined  *int     `json:"m.joined_member_count"`
		Invited *int     `json:"m.invited_member_count"`
	}
	_ = json.Unmarshal(raw, &got)
	if len(got.Heroes) != 1 || got.Heroes[0] != hero || got.Joined == nil || *got.Joined != joined || got.Invited == nil || *got.Invited != invited {
		t.Errorf("%s: summary %s, want heroes [%s], %d joined, %d invited", what, raw, hero, joined, invited)
	}
}
