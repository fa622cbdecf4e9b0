package clientapi

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// fakeRemote records what the client API asks of other servers.
type fakeRemote struct {
	calls   []string // "join !room [servers]" etc.
	content []byte   // of the last call
	err     error
	aliases map[string]string
	pending map[string]bool // room → the caller holds an invite
}

func (f *fakeRemote) record(call string, content []byte) error {
	f.calls = append(f.calls, call)
	f.content = content
	return f.err
}

func (f *fakeRemote) Join(_ context.Context, userID, roomID string, servers []string, content []byte) error {
	return f.record("join "+userID+" "+roomID+" "+strings.Join(servers, ","), content)
}

func (f *fakeRemote) Leave(_ context.Context, userID, roomID string, content []byte) error {
	return f.record("leave "+userID+" "+roomID, content)
}

func (f *fakeRemote) Invite(_ context.Context, sender, roomID, invitee string, content []byte) error {
	return f.record("invite "+sender+" "+roomID+" "+invitee, content)
}

func (f *fakeRemote) Knock(_ context.Context, userID, roomID string, servers []string, content []byte) error {
	return f.record("knock "+userID+" "+roomID+" "+strings.Join(servers, ","), content)
}

func (f *fakeRemote) ResolveAlias(_ context.Context, alias string) (string, []string, error) {
	f.calls = append(f.calls, "alias "+alias)
	if roomID, ok := f.aliases[alias]; ok {
		return roomID, []string{"remote.test"}, nil
	}
	return "", nil, mxcore.NotFound("no such alias")
}

func (f *fakeRemote) PendingInvite(_ context.Context, roomID, _ string) (bool, error) {
	return f.pending[roomID], nil
}

func newRemoteEnv(t *testing.T) (*syncEnv, *fakeRemote) {
	e := newSyncEnv(t)
	f := &fakeRemote{aliases: map[string]string{"#tea:remote.test": "!tea:remote.test"}, pending: map[string]bool{}}
	e.api.RemoteRooms = f
	return e, f
}

func TestMembershipGoesRemoteOnlyWhenItMust(t *testing.T) {
	e, f := newRemoteEnv(t)
	local := e.createRoom(e.alice)
	publicRules := `{"join_rule":"public"}`
	if _, err := e.api.Rooms.SendEvent(t.Context(), roomEvent(local, e.alice, "m.room.join_rules", "", publicRules)); err != nil {
		t.Fatal(err)
	}
	esc := url.PathEscape
	cases := []struct {
		name, method, path string
		body               any
		status             int
		wantCall           string // "" for none
	}{
		{"unknown room joined through its server and via", "POST", "/_matrix/client/v3/join/" + esc("!r:remote.test") + "?via=a.test&server_name=b.test", map[string]any{},
			http.StatusOK, "join " + e.bob + " !r:remote.test a.test,b.test,remote.test"},
		{"unknown room of ours", "POST", "/_matrix/client/v3/rooms/" + esc("!r:"+testServer) + "/join", map[string]any{}, http.StatusNotFound, ""},
		{"room joined here", "POST", "/_matrix/client/v3/rooms/" + esc(local) + "/join", map[string]any{}, http.StatusOK, ""},
		{"remote alias", "POST", "/_matrix/client/v3/join/" + esc("#tea:remote.test"), map[string]any{}, http.StatusOK, "join " + e.bob + " !tea:remote.test remote.test"},
		{"unknown remote alias", "POST", "/_matrix/client/v3/join/" + esc("#none:remote.test"), map[string]any{}, http.StatusNotFound, ""},
		{"remote invitee", "POST", "/_matrix/client/v3/rooms/" + esc(local) + "/invite", map[string]any{"user_id": "@carol:remote.test"}, http.StatusOK, "invite " + e.bob + " " + local + " @carol:remote.test"},
		{"knock through via", "POST", "/_matrix/client/v3/knock/" + esc("!k:remote.test") + "?via=a.test", map[string]any{"reason": "hi"}, http.StatusOK, "knock " + e.bob + " !k:remote.test a.test,remote.test"},
		{"leave of a room only this server is in", "POST", "/_matrix/client/v3/rooms/" + esc(local) + "/leave", map[string]any{}, http.StatusOK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.calls = nil
			e.do(tc.method, tc.path, tc.body, e.bobToken).want(t, tc.status, remoteErrcodeFor(tc.status))
			calls := slices.DeleteFunc(slices.Clone(f.calls), func(c string) bool { return strings.HasPrefix(c, "alias ") })
			switch {
			case tc.wantCall == "" && len(calls) > 0:
				t.Errorf("asked other servers: %v", calls)
			case tc.wantCall != "" && (len(calls) != 1 || calls[0] != tc.wantCall):
				t.Errorf("calls %v, want %q", calls, tc.wantCall)
			}
		})
	}
	if gjson.GetBytes(f.content, "membership").Str != "leave" && len(f.calls) > 0 {
		t.Errorf("content of the last call: %s", f.content)
	}
}

func TestRemoteRefusalsReachTheClient(t *testing.T) {
	e, f := newRemoteEnv(t)
	f.err = mxcore.Forbidden("not invited")
	e.do("POST", "/_matrix/client/v3/join/"+url.PathEscape("!r:remote.test"), map[string]any{}, e.bobToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
	if gjson.GetBytes(f.content, "membership").Str != "join" {
		t.Errorf("join content: %s", f.content)
	}
	f.pending["!inv:remote.test"] = true
	e.do("POST", "/_matrix/client/v3/rooms/"+url.PathEscape("!inv:remote.test")+"/leave", map[string]any{}, e.bobToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
	f.err = nil
	e.do("POST", "/_matrix/client/v3/rooms/"+url.PathEscape("!inv:remote.test")+"/leave", map[string]any{"reason": "no"}, e.bobToken).want(t, http.StatusOK, "")
	if got := f.calls[len(f.calls)-1]; got != "leave "+e.bob+" !inv:remote.test" {
		t.Errorf("rejection asked %q", got)
	}
}

func TestSyncShowsRemoteInvites(t *testing.T) {
	e, _ := newRemoteEnv(t)
	add := func(roomID string) {
		t.Helper()
		_, err := e.db.AddRemoteInvite(t.Context(), storage.RemoteInvite{
			RoomID: roomID, UserID: e.bob, EventID: "$" + roomID[1:4], RoomVersion: "12", Sender: "@carol:remote.test",
			Event:       []byte(`{"type":"m.room.member","state_key":"` + e.bob + `","sender":"@carol:remote.test","content":{"membership":"invite"}}`),
			InviteState: []byte(`[{"type":"m.room.name","state_key":"","sender":"@carol:remote.test","content":{"name":"Tea"}}]`),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	add("!one:remote.test")
	first := e.do("GET", "/_matrix/client/v3/sync?timeout=0", nil, e.bobToken).want(t, http.StatusOK, "")
	invite := section(first, "invite", "!one:remote.test")
	state := eventsAt(invite, "invite_state")
	if len(state) != 2 || state[0]["type"] != "m.room.name" || state[1]["type"] != "m.room.member" || state[1]["state_key"] != e.bob {
		t.Fatalf("invite_state: %v", state)
	}
	since := first.str("next_batch")
	again := e.do("GET", "/_matrix/client/v3/sync?timeout=0&since="+since, nil, e.bobToken).want(t, http.StatusOK, "")
	if section(again, "invite", "!one:remote.test") != nil {
		t.Error("an incremental sync repeats the invite")
	}
	add("!two:remote.test")
	later := e.do("GET", "/_matrix/client/v3/sync?timeout=0&since="+since, nil, e.bobToken).want(t, http.StatusOK, "")
	if section(later, "invite", "!two:remote.test") == nil || section(later, "invite", "!one:remote.test") != nil {
		t.Errorf("incremental sync after a new invite: %v", later.body["rooms"])
	}
	alice := e.do("GET", "/_matrix/client/v3/sync?timeout=0", nil, e.aliceToken).want(t, http.StatusOK, "")
	if section(alice, "invite", "!one:remote.test") != nil {
		t.Error("another user sees bob's invite")
	}
}

func remoteErrcodeFor(status int) string {
	switch status {
	case http.StatusOK:
		return ""
	case http.StatusNotFound:
		return "M_NOT_FOUND"
	case http.StatusForbidden:
		return "M_FORBIDDEN"
	}
	return "M_UNKNOWN"
}

func roomEvent(roomID, sender, typ, stateKey, content string) roomserver.EventRequest {
	return roomserver.EventRequest{RoomID: roomID, Sender: sender, Type: typ, StateKey: &stateKey, Content: []byte(content)}
}

// TestRemoteInviteWakesLongPoll: an invite stored over federation enters
// no room here, so it must wake the invitee's waiting /sync itself.
func TestRemoteInviteWakesLongPoll(t *testing.T) {
	e, _ := newRemoteEnv(t)
	since := e.do("GET", "/_matrix/client/v3/sync?timeout=0", nil, e.bobToken).want(t, http.StatusOK, "").str("next_batch")
	done := make(chan testResponse, 1)
	started := time.Now()
	go func() { done <- e.do("GET", "/_matrix/client/v3/sync?timeout=20000&since="+since, nil, e.bobToken) }()
	time.Sleep(300 * time.Millisecond) // let the long-poll start waiting
	pos, err := e.db.AddRemoteInvite(t.Context(), storage.RemoteInvite{
		RoomID: "!wake:remote.test", UserID: e.bob, EventID: "$w", RoomVersion: "12", Sender: "@carol:remote.test",
		Event: []byte(`{"type":"m.room.member","content":{"membership":"invite"}}`), InviteState: []byte(`[]`),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.api.RemoteInviteStored("!wake:remote.test", e.bob, pos)
	select {
	case resp := <-done:
		if section(resp, "invite", "!wake:remote.test") == nil {
			t.Errorf("woken sync lacks the invite: %v", resp.body)
		}
		if waited := time.Since(started); waited > 10*time.Second {
			t.Errorf("the long-poll took %v", waited)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the long-poll was not woken by the invite")
	}
}

// TestSyncShowsRejectedRemoteInvites: an incremental sync reports a
// rejected invite as a left room with the leave, an initial one not at
// all.
func TestSyncShowsRejectedRemoteInvites(t *testing.T) {
	e, _ := newRemoteEnv(t)
	const roomID = "!gone:remote.test"
	if _, err := e.db.AddRemoteInvite(t.Context(), storage.RemoteInvite{
		RoomID: roomID, UserID: e.bob, EventID: "$i", RoomVersion: "12", Sender: "@carol:remote.test",
		Event: []byte(`{"type":"m.room.member","content":{"membership":"invite"}}`), InviteState: []byte(`[]`),
	}); err != nil {
		t.Fatal(err)
	}
	since := e.do("GET", "/_matrix/client/v3/sync?timeout=0", nil, e.bobToken).want(t, http.StatusOK, "").str("next_batch")
	ver, _ := mxcore.GetRoomVersion("12")
	raw := []byte(`{"auth_events":[],"content":{"membership":"leave"},"depth":5,"origin_server_ts":1,"prev_events":[],"room_id":"` +
		roomID + `","sender":"` + e.bob + `","state_key":"` + e.bob + `","type":"m.room.member"}`)
	_, priv, _ := ed25519.GenerateKey(nil)
	raw, err := mxcore.AddContentHash(raw)
	if err == nil {
		raw, err = mxcore.SignEvent(raw, testServer, "ed25519:k", priv, ver)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.RejectRemoteInvite(t.Context(), roomID, e.bob, raw); err != nil {
		t.Fatal(err)
	}
	later := e.do("GET", "/_matrix/client/v3/sync?timeout=0&since="+since, nil, e.bobToken).want(t, http.StatusOK, "")
	left := section(later, "leave", roomID)
	timeline := eventsAt(left, "timeline")
	if len(timeline) != 1 || timeline[0]["state_key"] != e.bob || timeline[0]["content"].(map[string]any)["membership"] != "leave" {
		t.Errorf("left room: %v", left)
	}
	if section(later, "invite", roomID) != nil {
		t.Error("the rejected invite is still listed")
	}
	initial := e.do("GET", "/_matrix/client/v3/sync?timeout=0", nil, e.bobToken).want(t, http.StatusOK, "")
	if section(initial, "leave", roomID) != nil || section(initial, "invite", roomID) != nil {
		t.Errorf("an initial sync shows the rejected invite: %v", initial.body["rooms"])
	}
}
