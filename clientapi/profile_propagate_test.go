package clientapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

func TestApplyProfile(t *testing.T) {
	tests := []struct {
		name    string
		content map[string]any
		profile storage.Profile
		want    map[string]any
		changed bool
	}{
		{"sets both, keeps others", map[string]any{"membership": "join", "reason": "x"},
			storage.Profile{DisplayName: "Al", AvatarURL: "mxc://a/b"},
			map[string]any{"membership": "join", "reason": "x", "displayname": "Al", "avatar_url": "mxc://a/b"}, true},
		{"same values: unchanged", map[string]any{"membership": "join", "displayname": "Al"},
			storage.Profile{DisplayName: "Al"}, map[string]any{"membership": "join", "displayname": "Al"}, false},
		{"cleared field is removed", map[string]any{"membership": "join", "displayname": "Al", "avatar_url": "mxc://a/b"},
			storage.Profile{DisplayName: "Al"}, map[string]any{"membership": "join", "displayname": "Al"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changed := applyProfile(tc.content, tc.profile)
			got, _ := json.Marshal(tc.content)
			want, _ := json.Marshal(tc.want)
			if changed != tc.changed || string(got) != string(want) {
				t.Errorf("got %s changed=%v, want %s changed=%v", got, changed, want, tc.changed)
			}
		})
	}
}

// TestProfilePropagatorCoalesces: changes made while a run is under way
// cause exactly one more run, never two concurrent runs for a user.
func TestProfilePropagatorCoalesces(t *testing.T) {
	var p profilePropagator
	var runs, running atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	run := func(string) {
		if running.Add(1) > 1 {
			t.Error("two runs at once for one user")
		}
		runs.Add(1)
		started <- struct{}{}
		<-release
		running.Add(-1)
	}
	p.schedule("@a:x", run)
	<-started
	for range 5 {
		p.schedule("@a:x", run)
	}
	close(release)
	p.wait()
	if got := runs.Load(); got != 2 {
		t.Errorf("%d runs, want 2", got)
	}
}

func TestProfileChangeSendsMemberEventsToJoinedRooms(t *testing.T) {
	e := newSyncEnv(t)
	shared := e.createRoom(e.alice, e.bob)
	e.membership(shared, e.bob, "join")
	left := e.createRoom(e.alice, e.bob)
	e.membership(left, e.bob, "join")
	e.membership(left, e.alice, "leave")
	since := e.sync(e.bobToken, nil).str("next_batch")

	e.do("PUT", "/_matrix/client/v3/profile/"+url.PathEscape(e.alice)+"/displayname",
		map[string]string{"displayname": "Alice Liddell"}, e.aliceToken).want(t, http.StatusOK, "")
	e.api.profileRuns.wait()

	resp := e.sync(e.bobToken, url.Values{"since": {since}})
	var member map[string]any
	for _, ev := range eventsAt(section(resp, "join", shared), "timeline") {
		if ev["type"] == "m.room.member" && ev["state_key"] == e.alice {
			member = ev
		}
	}
	content, _ := member["content"].(map[string]any)
	if content["displayname"] != "Alice Liddell" || content["membership"] != "join" {
		t.Fatalf("no new member event for alice in the shared room: %v", resp.body)
	}
	if room := section(resp, "join", left); room != nil && hasEvent(eventsAt(room, "timeline"), "m.room.member", e.alice) {
		t.Error("a member event was sent into a room alice left")
	}

	// Setting the same name again sends nothing new.
	since = resp.str("next_batch")
	e.do("PUT", "/_matrix/client/v3/profile/"+url.PathEscape(e.alice)+"/displayname",
		map[string]string{"displayname": "Alice Liddell"}, e.aliceToken).want(t, http.StatusOK, "")
	e.api.profileRuns.wait()
	resp = e.sync(e.bobToken, url.Values{"since": {since}, "timeout": {"0"}})
	if room := section(resp, "join", shared); room != nil && hasEvent(eventsAt(room, "timeline"), "m.room.member", e.alice) {
		t.Error("an unchanged profile sent a member event")
	}
}
