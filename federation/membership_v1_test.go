package federation

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

func TestUnknownEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"404 unrecognized", &RemoteError{Status: 404, ErrCode: "M_UNRECOGNIZED"}, true},
		{"405 unrecognized", &RemoteError{Status: 405, ErrCode: "M_UNRECOGNIZED"}, true},
		{"400 unrecognized (older servers)", &RemoteError{Status: 400, ErrCode: "M_UNRECOGNIZED"}, true},
		{"404 not found: the room, not the endpoint", &RemoteError{Status: 404, ErrCode: "M_NOT_FOUND"}, false},
		{"404 without a Matrix error", &RemoteError{Status: 404}, false},
		{"403 forbidden", &RemoteError{Status: 403, ErrCode: "M_FORBIDDEN"}, false},
		{"500 unrecognized", &RemoteError{Status: 500, ErrCode: "M_UNRECOGNIZED"}, false},
		{"transport error", errors.New("connection refused"), false},
		{"none", nil, false},
	} {
		if got := unknownEndpoint(tc.err); got != tc.want {
			t.Errorf("%s: unknownEndpoint = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestUnwrapV1(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{`[200, {"origin":"x","state":[]}]`, `{"origin":"x","state":[]}`},
		{`[200,{}]`, `{}`},
		{`{"origin":"x"}`, ""},    // a v2 shape is not a v1 answer
		{`[200]`, ""},             // no object
		{`[200, {}, {}]`, ""},     // too long
		{`[200, "text"]`, ""},     // not an object
		{`[200, {"unclosed"`, ""}, // not JSON
		{``, ""},                  // nothing
	} {
		got, err := unwrapV1("remote.test", []byte(tc.body))
		if tc.want == "" {
			if err == nil {
				t.Errorf("unwrapV1(%s) = %s, want an error", tc.body, got)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("unwrapV1(%s) = %s, %v; want %s", tc.body, got, err, tc.want)
		}
	}
}

// TestMembershipFallsBackToV1: against a resident that answers only v1
// (v2 is 404 M_UNRECOGNIZED, as from a server that predates it), joins and
// leaves go through v1 send_join and send_leave, whose [200, {...}]
// answers are taken; an invite into a version 1 or 2 room goes through v1
// invite, into later versions it is refused with M_UNSUPPORTED_ROOM_VERSION.
func TestMembershipFallsBackToV1(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	w.v1Only = map[string]bool{residentServer: true}
	res, join := w.servers[residentServer], w.servers[joiningServer]
	roomID := res.createRoom(t, residentUser, "public_chat")

	if err := join.m.Join(t.Context(), joiningUser, roomID, []string{residentServer}, nil); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{residentUser, joiningUser} {
		if got := join.membership(t, roomID, user); got != "join" {
			t.Errorf("joiner has %s as %q after a v1 join", user, got)
		}
	}
	if got := res.membership(t, roomID, joiningUser); got != "join" {
		t.Errorf("resident has the joiner as %q", got)
	}
	wantRequests(t, res, "/send_join/", 1, 1)

	if err := join.m.Leave(t.Context(), joiningUser, roomID, memberContentJSON("leave")); err != nil {
		t.Fatal(err)
	}
	if got := res.membership(t, roomID, joiningUser); got != "leave" {
		t.Errorf("resident has the joiner as %q after a v1 leave", got)
	}
	wantRequests(t, res, "/send_leave/", 1, 1)

	// The other way round: the invited server knows only v1.
	w.v1Only = map[string]bool{joiningServer: true}
	modern := res.createRoom(t, residentUser, "private_chat")
	err := res.m.Invite(t.Context(), residentUser, modern, joiningUser, memberContentJSON("invite"))
	var mxErr *mxcore.Error
	if !errors.As(err, &mxErr) || mxErr.ErrCode != mxcore.ErrUnsupportedRoomVer {
		t.Errorf("invite into a version 12 room through v1: %v, want M_UNSUPPORTED_ROOM_VERSION", err)
	}
	for _, ver := range []string{"1", "2"} {
		name := "old room"
		old, err := res.rooms.CreateRoom(t.Context(), roomserver.CreateRoomOptions{Creator: residentUser, Preset: "private_chat", Name: &name, RoomVersion: ver})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.m.Invite(t.Context(), residentUser, old.RoomID, joiningUser, memberContentJSON("invite")); err != nil {
			t.Fatalf("invite into a version %s room through v1: %v", ver, err)
		}
		if got := res.membership(t, old.RoomID, joiningUser); got != "invite" {
			t.Errorf("version %s: resident has the invitee as %q", ver, got)
		}
		inv, err := join.db.RemoteInvite(t.Context(), old.RoomID, joiningUser)
		if err != nil {
			t.Fatal(err)
		}
		if !gjson.GetBytes(inv.Event, "signatures."+strings.ReplaceAll(joiningServer, ".", `\.`)).Exists() || gjson.GetBytes(inv.Event, "unsigned").Exists() {
			t.Errorf("version %s: stored invite is not signed, or keeps v1's unsigned state: %s", ver, inv.Event)
		}
		if !strings.Contains(string(inv.InviteState), "old room") {
			t.Errorf("version %s: the room state sent in v1's unsigned section was not kept: %s", ver, inv.InviteState)
		}
		stored, err := res.rooms.CurrentStateEvent(t.Context(), old.RoomID, "m.room.member", joiningUser)
		if err != nil || gjson.GetBytes(stored.JSON(), "unsigned.invite_room_state").Exists() {
			t.Errorf("version %s: the inviter persisted v1's unsigned state: %v", ver, err)
		}
	}
	wantRequests(t, join, "/invite/", 3, 2)
}

// wantRequests checks how many v2 and v1 requests to an endpoint s got.
func wantRequests(t *testing.T, s *memberServer, endpoint string, v2, v1 int) {
	t.Helper()
	got := map[string]int{}
	for path, n := range s.requests {
		for _, v := range []string{"v1", "v2"} {
			if strings.HasPrefix(path, "/_matrix/federation/"+v+endpoint) {
				got[v] += n
			}
		}
	}
	if got["v2"] != v2 || got["v1"] != v1 {
		t.Errorf("%s got %d v2 and %d v1 %s requests, want %d and %d", s.name, got["v2"], got["v1"], endpoint, v2, v1)
	}
}

// TestResidentServesV1: the v1 endpoints answer in v1's shape and refuse
// what v2 refuses, with the same errors.
func TestResidentServesV1(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	roomID := res.createRoom(t, residentUser, "public_chat")
	ev, _, err := join.m.makeAndSign(t.Context(), residentServer, "join", joiningUser, roomID, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := "/_matrix/federation/v1/send_join/" + url.PathEscape(roomID) + "/" + url.PathEscape(ev.EventID())
	status, body := w.call(residentServer, residentServer, "PUT", path, ev.JSON())
	wantMemberError(t, status, body, http.StatusForbidden, "M_FORBIDDEN") // not the sender's server
	status, body = w.call(residentServer, joiningServer, "PUT", path, []byte(`{"not":"an event"}`))
	if status != http.StatusBadRequest {
		t.Errorf("v1 send_join of a non-event: %d %s", status, body.Raw)
	}
	status, body = w.call(residentServer, joiningServer, "PUT", path, ev.JSON())
	if status != http.StatusOK || !body.IsArray() || body.Get("0").Int() != 200 ||
		body.Get("1.origin").Str != residentServer || len(body.Get("1.state").Array()) == 0 || len(body.Get("1.auth_chain").Array()) == 0 {
		t.Errorf("v1 send_join answered %d %.300s", status, body.Raw)
	}

	leave, _, err := join.m.makeAndSign(t.Context(), residentServer, "leave", joiningUser, roomID, nil)
	if err != nil {
		t.Fatal(err)
	}
	path = "/_matrix/federation/v1/send_leave/" + url.PathEscape(roomID) + "/" + url.PathEscape(leave.EventID())
	status, body = w.call(residentServer, joiningServer, "PUT", path, leave.JSON())
	if status != http.StatusOK || body.Raw != `[200,{}]` {
		t.Errorf("v1 send_leave answered %d %s", status, body.Raw)
	}

	status, body = w.call(joiningServer, residentServer, "PUT", "/_matrix/federation/v1/invite/"+url.PathEscape(roomID)+"/$x", []byte(`[1,2]`))
	wantMemberError(t, status, body, http.StatusBadRequest, "M_BAD_JSON")
	status, body = w.call(joiningServer, residentServer, "PUT", "/_matrix/federation/v1/invite/"+url.PathEscape(roomID)+"/$x", []byte(`{"type":"m.room.message"}`))
	wantMemberError(t, status, body, http.StatusBadRequest, "M_INVALID_PARAM")
}
