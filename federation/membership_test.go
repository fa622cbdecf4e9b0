package federation

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

const (
	residentServer = "resident.test"
	joiningServer  = "joiner.test"
	residentUser   = "@alice:resident.test"
	joiningUser    = "@bob:joiner.test"
)

func makeMembershipPath(kind, roomID, userID string) string {
	return "/_matrix/federation/v1/make_" + kind + "/" + url.PathEscape(roomID) + "/" + url.PathEscape(userID)
}

func TestMakeJoin(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res := w.servers[residentServer]
	public := res.createRoom(t, residentUser, "public_chat")
	private := res.createRoom(t, residentUser, "private_chat")
	res.deny["denied.test"] = true
	cases := []struct {
		name, origin, roomID, userID, query string
		status                              int
		errcode                             string
	}{
		{"template", joiningServer, public, joiningUser, "?ver=11&ver=12", http.StatusOK, ""},
		{"unknown room", joiningServer, "!nowhere:resident.test", joiningUser, "?ver=12", http.StatusNotFound, "M_NOT_FOUND"},
		{"version not supported", joiningServer, public, joiningUser, "?ver=10", http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION"},
		{"no versions means v1", joiningServer, public, joiningUser, "", http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION"},
		{"user of another server", joiningServer, public, "@eve:elsewhere.test", "?ver=12", http.StatusForbidden, "M_FORBIDDEN"},
		{"invite-only room", joiningServer, private, joiningUser, "?ver=12", http.StatusForbidden, "M_FORBIDDEN"},
		{"policy denies", "denied.test", public, "@eve:denied.test", "?ver=12", http.StatusForbidden, "M_FORBIDDEN"},
		{"bad room ID", joiningServer, "nonsense", joiningUser, "?ver=12", http.StatusBadRequest, "M_INVALID_PARAM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := w.call(residentServer, tc.origin, "GET", makeMembershipPath("join", tc.roomID, tc.userID)+tc.query, nil)
			if tc.status != http.StatusOK {
				wantMemberError(t, status, body, tc.status, tc.errcode)
				if tc.errcode == "M_INCOMPATIBLE_ROOM_VERSION" && body.Get("room_version").Str != "12" {
					t.Errorf("error lacks the room's version: %s", body.Raw)
				}
				return
			}
			ev := body.Get("event")
			if status != http.StatusOK || body.Get("room_version").Str != "12" || ev.Get("type").Str != "m.room.member" ||
				ev.Get("sender").Str != joiningUser || ev.Get("state_key").Str != joiningUser || ev.Get("content.membership").Str != "join" ||
				len(ev.Get("prev_events").Array()) == 0 || len(ev.Get("auth_events").Array()) == 0 || ev.Get("signatures").Exists() {
				t.Errorf("template: %d %s", status, body.Raw)
			}
		})
	}
}

func TestJoinOverFederation(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	roomID := res.createRoom(t, residentUser, "public_chat")
	if err := join.m.Join(t.Context(), joiningUser, roomID, []string{residentServer}, []byte(`{"displayname":"Bob"}`)); err != nil {
		t.Fatal(err)
	}
	if got := res.membership(t, roomID, joiningUser); got != "join" {
		t.Errorf("resident has joiningUser as %q", got)
	}
	for _, user := range []string{residentUser, joiningUser} {
		if got := join.membership(t, roomID, user); got != "join" {
			t.Errorf("joiner has %s as %q", user, got)
		}
	}
	resState, _ := res.rooms.CurrentState(t.Context(), roomID)
	joinState, _ := join.rooms.CurrentState(t.Context(), roomID)
	if len(resState) != len(joinState) {
		t.Errorf("the joiningServer's state has %d entries, the residentServer's %d", len(joinState), len(resState))
	}
	for i := range min(len(resState), len(joinState)) {
		if resState[i] != joinState[i] {
			t.Errorf("state differs: %v vs %v", resState[i], joinState[i])
		}
	}
	ev, err := join.rooms.CurrentStateEvent(t.Context(), roomID, "m.room.member", joiningUser)
	if err != nil || gjson.GetBytes(ev.Content(), "displayname").Str != "Bob" {
		t.Errorf("bob's join lacks his content: %v", err)
	}
	// Once in, a second user of the joiner's server joins there; the
	// resident is not asked again to make that possible.
	if !join.m.participates(t.Context(), roomID) {
		t.Error("the joiningServer does not count itself in the room")
	}
}

func TestJoinThroughCandidates(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	roomID := res.createRoom(t, residentUser, "public_chat")
	private := res.createRoom(t, residentUser, "private_chat")

	join.deny[residentServer] = true
	err := join.m.Join(t.Context(), joiningUser, roomID, []string{residentServer}, nil)
	if !isMemberMatrixError(err, http.StatusForbidden, "M_FORBIDDEN") || res.requests[makeMembershipPath("join", roomID, joiningUser)] != 0 {
		t.Errorf("join through a server the policy denies: %v (requests %v)", err, res.requests)
	}
	delete(join.deny, residentServer)

	err = join.m.Join(t.Context(), joiningUser, private, []string{"down.test", residentServer}, nil)
	if !isMemberMatrixError(err, http.StatusForbidden, "M_FORBIDDEN") {
		t.Errorf("join of an invite-only room: %v", err)
	}
	if err := join.m.Join(t.Context(), joiningUser, roomID, []string{joiningServer}, nil); !isMemberMatrixError(err, http.StatusNotFound, "M_NOT_FOUND") {
		t.Errorf("join with only ourselves to ask: %v", err)
	}
	if err := join.m.Join(t.Context(), joiningUser, roomID, []string{"down.test", residentServer}, nil); err != nil {
		t.Errorf("join after an unreachable candidate: %v", err)
	}
}

func isMemberMatrixError(err error, status int, errcode string) bool {
	var e *mxcore.Error
	return errors.As(err, &e) && e.Status == status && e.ErrCode == errcode
}

// signedMembershipEvent asks the resident for a template and signs it as the
// joiner would, for the send_* error cases.
func signedMembershipEvent(t *testing.T, w *memberWorld, membership, roomID, userID string) *mxcore.PDU {
	t.Helper()
	ev, _, err := w.servers[joiningServer].m.makeAndSign(t.Context(), residentServer, membership, userID, roomID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func sendMembershipPath(endpoint, roomID, eventID string) string {
	return "/_matrix/federation/" + endpoint + "/" + url.PathEscape(roomID) + "/" + url.PathEscape(eventID)
}

func TestSendJoinRefuses(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer, "other.test")
	res := w.servers[residentServer]
	roomID := res.createRoom(t, residentUser, "public_chat")
	ev := signedMembershipEvent(t, w, "join", roomID, joiningUser)
	tampered := strings.Replace(string(ev.JSON()), `"membership":"join"`, `"membership":"join","x":1`, 1)
	otherKey := w.servers["other.test"].m
	forged, _ := otherKey.hashAndSign(stripMemberSignatures(t, ev.JSON()), ev.Version())

	cases := []struct {
		name, origin, roomID, eventID string
		body                          any
		status                        int
		errcode                       string
	}{
		{"not an event", joiningServer, roomID, ev.EventID(), json.RawMessage(`{"type":1}`), http.StatusBadRequest, "M_BAD_JSON"},
		{"other event ID in path", joiningServer, roomID, "$other", json.RawMessage(ev.JSON()), http.StatusBadRequest, "M_INVALID_PARAM"},
		{"unknown room", joiningServer, "!nowhere:resident.test", ev.EventID(), json.RawMessage(ev.JSON()), http.StatusNotFound, "M_NOT_FOUND"},
		{"origin is not the sender's server", "other.test", roomID, ev.EventID(), json.RawMessage(ev.JSON()), http.StatusForbidden, "M_FORBIDDEN"},
		{"content does not match its hash", joiningServer, roomID, ev.EventID(), json.RawMessage(tampered), http.StatusBadRequest, "M_INVALID_PARAM"},
		{"signed by another server", joiningServer, roomID, forged.EventID(), json.RawMessage(forged.JSON()), http.StatusForbidden, "M_FORBIDDEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := w.call(residentServer, tc.origin, "PUT", sendMembershipPath("v2/send_join", tc.roomID, tc.eventID), tc.body)
			wantMemberError(t, status, body, tc.status, tc.errcode)
		})
	}
	t.Run("a leave is not a join", func(t *testing.T) {
		asLeave := strings.Replace(string(stripMemberSignatures(t, ev.JSON())), `"membership":"join"`, `"membership":"leave"`, 1)
		leave, err := w.servers[joiningServer].m.hashAndSign([]byte(asLeave), ev.Version())
		if err != nil {
			t.Fatal(err)
		}
		status, body := w.call(residentServer, joiningServer, "PUT", sendMembershipPath("v2/send_join", roomID, leave.EventID()), json.RawMessage(leave.JSON()))
		wantMemberError(t, status, body, http.StatusBadRequest, "M_INVALID_PARAM")
	})
	if got := res.membership(t, roomID, joiningUser); got != "" {
		t.Errorf("refused joins left joiningUser as %q", got)
	}
	t.Run("accepted", func(t *testing.T) {
		status, body := w.call(residentServer, joiningServer, "PUT", sendMembershipPath("v2/send_join", roomID, ev.EventID()), json.RawMessage(ev.JSON()))
		if status != http.StatusOK || body.Get("origin").Str != residentServer || body.Get("members_omitted").Bool() ||
			len(body.Get("state").Array()) == 0 || len(body.Get("auth_chain").Array()) == 0 {
			t.Fatalf("send_join: %d %s", status, body.Raw)
		}
		for _, s := range body.Get("state").Array() {
			if s.Get("event_id").Str == ev.EventID() || s.Get("state_key").Str == joiningUser {
				t.Error("the state before the join holds the join")
			}
		}
	})
}

// stripMemberSignatures removes an event's hashes and signatures.
func stripMemberSignatures(t *testing.T, raw []byte) []byte {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	delete(fields, "signatures")
	delete(fields, "hashes")
	out, _ := json.Marshal(fields)
	return out
}

func TestLeaveOverFederation(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	roomID := res.createRoom(t, residentUser, "public_chat")
	status, body := w.call(residentServer, joiningServer, "GET", makeMembershipPath("leave", roomID, joiningUser), nil)
	wantMemberError(t, status, body, http.StatusForbidden, "M_FORBIDDEN") // not in the room: nothing to leave
	status, body = w.call(residentServer, joiningServer, "GET", makeMembershipPath("leave", "!nowhere:resident.test", joiningUser), nil)
	wantMemberError(t, status, body, http.StatusNotFound, "M_NOT_FOUND")
	status, body = w.call(residentServer, joiningServer, "GET", makeMembershipPath("leave", roomID, residentUser), nil)
	wantMemberError(t, status, body, http.StatusForbidden, "M_FORBIDDEN")

	if err := join.m.Join(t.Context(), joiningUser, roomID, []string{residentServer}, nil); err != nil {
		t.Fatal(err)
	}
	status, body = w.call(residentServer, joiningServer, "GET", makeMembershipPath("leave", roomID, joiningUser), nil)
	if status != http.StatusOK || body.Get("room_version").Str != "12" || body.Get("event.content.membership").Str != "leave" {
		t.Errorf("make_leave: %d %s", status, body.Raw)
	}
	if err := join.m.Leave(t.Context(), joiningUser, roomID, memberContentJSON("leave")); err != nil {
		t.Fatal(err)
	}
	if got := res.membership(t, roomID, joiningUser); got != "leave" {
		t.Errorf("resident has joiningUser as %q after his leave", got)
	}
	if got := join.membership(t, roomID, joiningUser); got != "leave" {
		t.Errorf("joiner has joiningUser as %q after his leave", got)
	}
	if join.m.participates(t.Context(), roomID) {
		t.Error("the joiningServer still counts itself in the room")
	}
}

func TestInviteOverFederation(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	roomID := res.createRoom(t, residentUser, "private_chat")
	if err := res.m.Invite(t.Context(), residentUser, roomID, joiningUser, memberContentJSON("invite")); err != nil {
		t.Fatal(err)
	}
	if got := res.membership(t, roomID, joiningUser); got != "invite" {
		t.Errorf("resident has joiningUser as %q", got)
	}
	inv, err := join.db.RemoteInvite(t.Context(), roomID, joiningUser)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Sender != residentUser || inv.RoomVersion != "12" || !gjson.GetBytes(inv.Event, "signatures."+strings.ReplaceAll(joiningServer, ".", `\.`)).Exists() {
		t.Errorf("stored invite: %+v", inv)
	}
	if !strings.Contains(string(inv.InviteState), "m.room.create") || !strings.Contains(string(inv.InviteState), "m.room.name") {
		t.Errorf("invite state: %s", inv.InviteState)
	}
	// Joining through the invite needs no servers named: the inviter's is
	// asked, and the invite is then done with.
	if err := join.m.Join(t.Context(), joiningUser, roomID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := res.membership(t, roomID, joiningUser); got != "join" {
		t.Errorf("resident has joiningUser as %q after his join", got)
	}
	if _, err := join.db.RemoteInvite(t.Context(), roomID, joiningUser); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("invite kept after the join: %v", err)
	}
}

func TestInviteRejectedOverFederation(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	roomID := res.createRoom(t, residentUser, "private_chat")
	if err := res.m.Invite(t.Context(), residentUser, roomID, joiningUser, memberContentJSON("invite")); err != nil {
		t.Fatal(err)
	}
	if err := join.m.Leave(t.Context(), joiningUser, roomID, memberContentJSON("leave")); err != nil {
		t.Fatal(err)
	}
	if got := res.membership(t, roomID, joiningUser); got != "leave" {
		t.Errorf("resident has joiningUser as %q after the rejection", got)
	}
	if _, err := join.db.RemoteInvite(t.Context(), roomID, joiningUser); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("invite kept after the rejection: %v", err)
	}
	if err := join.m.Leave(t.Context(), joiningUser, "!unknown:nowhere.test", nil); err == nil {
		t.Error("leaving a room no server is known for succeeded")
	}
}

func TestReceiveInviteRefuses(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res := w.servers[residentServer]
	roomID := res.createRoom(t, residentUser, "private_chat")
	build := func(target string) *mxcore.PDU {
		ev, err := res.rooms.BuildEvent(t.Context(), roomserver.EventRequest{RoomID: roomID, Sender: residentUser, Type: "m.room.member", StateKey: &target, Content: memberContentJSON("invite")})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	invite, notOurs := build(joiningUser), build("@carol:elsewhere.test")
	joinEv, _ := res.rooms.BuildEvent(t.Context(), roomserver.EventRequest{RoomID: roomID, Sender: residentUser, Type: "m.room.member", StateKey: memberStrPtr(residentUser), Content: memberContentJSON("join")})
	body := func(ev *mxcore.PDU, ver string) map[string]any {
		return map[string]any{"room_version": ver, "event": json.RawMessage(ev.JSON())}
	}
	path := func(ev *mxcore.PDU) string { return sendMembershipPath("v2/invite", roomID, ev.EventID()) }
	cases := []struct {
		name, origin, path string
		body               any
		status             int
		errcode            string
	}{
		{"unsupported room version", residentServer, path(invite), body(invite, "99"), http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION"},
		{"no event", residentServer, path(invite), map[string]any{"room_version": "12"}, http.StatusBadRequest, "M_MISSING_PARAM"},
		{"invitee of another server", residentServer, path(notOurs), body(notOurs, "12"), http.StatusBadRequest, "M_INVALID_PARAM"},
		{"sender not of the origin", "other.test", path(invite), body(invite, "12"), http.StatusBadRequest, "M_INVALID_PARAM"},
		{"not an invite", residentServer, path(joinEv), body(joinEv, "12"), http.StatusBadRequest, "M_INVALID_PARAM"},
		{"path names another event", residentServer, sendMembershipPath("v2/invite", roomID, "$other"), body(invite, "12"), http.StatusBadRequest, "M_INVALID_PARAM"},
		{"not JSON", residentServer, path(invite), json.RawMessage(`[1]`), http.StatusBadRequest, "M_NOT_JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := w.call(joiningServer, tc.origin, "PUT", tc.path, tc.body)
			wantMemberError(t, status, resp, tc.status, tc.errcode)
		})
	}
	if invs, _ := w.servers[joiningServer].db.RemoteInvitesForUser(t.Context(), joiningUser, 0, 10); len(invs) != 0 {
		t.Errorf("refused invites were stored: %v", invs)
	}
	t.Run("forged signature", func(t *testing.T) {
		sig := gjson.GetBytes(invite.JSON(), `signatures.resident\.test.ed25519:res`).Str
		forged := strings.Replace(string(invite.JSON()), sig, sig[2:]+sig[:2], 1)
		status, resp := w.call(joiningServer, residentServer, "PUT", path(invite), map[string]any{"room_version": "12", "event": json.RawMessage(forged)})
		wantMemberError(t, status, resp, http.StatusBadRequest, "M_INVALID_PARAM")
	})
}

func memberStrPtr(s string) *string { return &s }

func TestKnockOverFederation(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	knockRoom := res.createRoom(t, residentUser, "private_chat", roomserver.InitialStateEvent{Type: "m.room.join_rules", Content: []byte(`{"join_rule":"knock"}`)})
	public := res.createRoom(t, residentUser, "public_chat")
	status, body := w.call(residentServer, joiningServer, "GET", makeMembershipPath("knock", knockRoom, joiningUser), nil)
	wantMemberError(t, status, body, http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION")
	status, body = w.call(residentServer, joiningServer, "GET", makeMembershipPath("knock", public, joiningUser)+"?ver=12", nil)
	wantMemberError(t, status, body, http.StatusForbidden, "M_FORBIDDEN")
	status, body = w.call(residentServer, joiningServer, "GET", makeMembershipPath("knock", "!nowhere:resident.test", joiningUser)+"?ver=12", nil)
	wantMemberError(t, status, body, http.StatusNotFound, "M_NOT_FOUND")

	if err := join.m.Knock(t.Context(), joiningUser, knockRoom, []string{residentServer}, []byte(`{"reason":"let me in"}`)); err != nil {
		t.Fatal(err)
	}
	if got := res.membership(t, knockRoom, joiningUser); got != "knock" {
		t.Errorf("resident has joiningUser as %q after his knock", got)
	}
	// A knocker may rescind the knock with a leave, which send_knock
	// does not take.
	ev := signedMembershipEvent(t, w, "leave", knockRoom, joiningUser)
	status, body = w.call(residentServer, joiningServer, "PUT", sendMembershipPath("v1/send_knock", knockRoom, ev.EventID()), json.RawMessage(ev.JSON()))
	wantMemberError(t, status, body, http.StatusBadRequest, "M_INVALID_PARAM")
}

func TestSendKnockAnswersRoomState(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res := w.servers[residentServer]
	roomID := res.createRoom(t, residentUser, "private_chat", roomserver.InitialStateEvent{Type: "m.room.join_rules", Content: []byte(`{"join_rule":"knock"}`)})
	ev := signedMembershipEvent(t, w, "knock", roomID, joiningUser)
	status, body := w.call(residentServer, joiningServer, "PUT", sendMembershipPath("v1/send_knock", roomID, ev.EventID()), json.RawMessage(ev.JSON()))
	if status != http.StatusOK {
		t.Fatalf("send_knock: %d %s", status, body.Raw)
	}
	types := map[string]bool{}
	for _, s := range body.Get("knock_room_state").Array() {
		types[s.Get("type").Str] = true
	}
	if !types["m.room.create"] || !types["m.room.join_rules"] || !types["m.room.name"] {
		t.Errorf("knock_room_state: %s", body.Get("knock_room_state").Raw)
	}
}

func TestQueryDirectory(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	roomID := res.createRoom(t, residentUser, "public_chat")
	if err := res.db.CreateAlias(t.Context(), "#fed:resident.test", roomID, residentUser); err != nil {
		t.Fatal(err)
	}
	q := func(alias string) string {
		return "/_matrix/federation/v1/query/directory?" + url.Values{"room_alias": {alias}}.Encode()
	}
	status, body := w.call(residentServer, joiningServer, "GET", q("#fed:resident.test"), nil)
	if status != http.StatusOK || body.Get("room_id").Str != roomID || body.Get("servers.0").Str != residentServer {
		t.Errorf("query: %d %s", status, body.Raw)
	}
	status, body = w.call(residentServer, joiningServer, "GET", q("#nonesuch:resident.test"), nil)
	wantMemberError(t, status, body, http.StatusNotFound, "M_NOT_FOUND")
	status, body = w.call(residentServer, joiningServer, "GET", q("#fed:elsewhere.test"), nil)
	wantMemberError(t, status, body, http.StatusNotFound, "M_NOT_FOUND")
	status, body = w.call(residentServer, joiningServer, "GET", q("nonsense"), nil)
	wantMemberError(t, status, body, http.StatusBadRequest, "M_INVALID_PARAM")

	got, servers, err := join.m.ResolveAlias(t.Context(), "#fed:resident.test")
	if err != nil || got != roomID || len(servers) == 0 || servers[0] != residentServer {
		t.Errorf("ResolveAlias: %s %v %v", got, servers, err)
	}
	if _, _, err := join.m.ResolveAlias(t.Context(), "#nonesuch:resident.test"); !isMemberMatrixError(err, http.StatusNotFound, "M_NOT_FOUND") {
		t.Errorf("ResolveAlias of a missing alias: %v", err)
	}
}

// TestMembershipRoutesAskPolicy walks every route the membership
// endpoints mount and checks that a server the policy denies gets 403
// M_FORBIDDEN from each, whatever else is in the request, and that the
// policy was asked about that server: none of them bypasses the seam.
func TestMembershipRoutesAskPolicy(t *testing.T) {
	w := newMemberWorld(t, residentServer)
	res := w.servers[residentServer]
	roomID := res.createRoom(t, residentUser, "public_chat")
	if err := res.db.CreateAlias(t.Context(), "#fed:resident.test", roomID, residentUser); err != nil {
		t.Fatal(err)
	}
	res.deny["denied.test"] = true
	r := chi.NewRouter()
	res.m.mount(r)
	routes := 0
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes++
		path := strings.NewReplacer("{roomId}", url.PathEscape(roomID), "{userId}", "@eve:denied.test", "{eventId}", "$x").Replace(route)
		path = "/_matrix/federation" + path + "?ver=12&room_alias=" + url.QueryEscape("#fed:resident.test")
		res.decisions = nil
		status, body := w.call(residentServer, "denied.test", method, path, json.RawMessage(`{}`))
		if status != http.StatusForbidden || body.Get("errcode").Str != "M_FORBIDDEN" {
			t.Errorf("%s %s: %d %s, want 403 M_FORBIDDEN", method, route, status, body.Raw)
		}
		if len(res.decisions) == 0 || res.decisions[0].Server != "denied.test" {
			t.Errorf("%s %s: policy asked %v", method, route, res.decisions)
		}
		return nil
	})
	if err != nil || routes != 11 {
		t.Errorf("walked %d routes (%v), want 11", routes, err)
	}
}

// TestJoinChecksWhatTheResidentSends: the joining side keeps only what
// verifies of a send_join answer, so a resident (or anything on the way)
// that drops, forges or alters state cannot make the join stand.
func TestJoinChecksWhatTheResidentSends(t *testing.T) {
	// editEvents rewrites the state and auth chain of an answer.
	editEvents := func(edit func(ev gjson.Result) (json.RawMessage, bool)) func([]byte) []byte {
		return func(body []byte) []byte {
			var resp map[string]json.RawMessage
			_ = json.Unmarshal(body, &resp)
			for _, key := range []string{"state", "auth_chain"} {
				var out []json.RawMessage
				for _, ev := range gjson.GetBytes(body, key).Array() {
					if raw, keep := edit(ev); keep {
						out = append(out, raw)
					}
				}
				resp[key], _ = json.Marshal(out)
			}
			b, _ := json.Marshal(resp)
			return b
		}
	}
	forgeSignature := func(typ string) func(ev gjson.Result) (json.RawMessage, bool) {
		return func(ev gjson.Result) (json.RawMessage, bool) {
			if ev.Get("type").Str != typ {
				return json.RawMessage(ev.Raw), true
			}
			sig := ev.Get(`signatures.resident\.test.ed25519:res`).Str
			first := "A"
			if sig[0] == 'A' {
				first = "B"
			}
			return json.RawMessage(strings.Replace(ev.Raw, sig, first+sig[1:], 1)), true
		}
	}
	cases := []struct {
		name   string
		tamper func([]byte) []byte
	}{
		{"create event left out", editEvents(func(ev gjson.Result) (json.RawMessage, bool) {
			return json.RawMessage(ev.Raw), ev.Get("type").Str != "m.room.create"
		})},
		{"create event forged", editEvents(forgeSignature("m.room.create"))},
		{"join rules forged", editEvents(forgeSignature("m.room.join_rules"))},
		{"state and auth chain empty", func([]byte) []byte { return []byte(`{"state":[],"auth_chain":[]}`) }},
		{"not JSON", func([]byte) []byte { return []byte(`<html>`) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemberWorld(t, residentServer, joiningServer)
			res, join := w.servers[residentServer], w.servers[joiningServer]
			roomID := res.createRoom(t, residentUser, "public_chat")
			w.tamperSendJoin = tc.tamper
			if err := join.m.Join(t.Context(), joiningUser, roomID, []string{residentServer}, nil); err == nil {
				t.Fatal("the join succeeded")
			}
			if join.m.participates(t.Context(), roomID) {
				t.Error("the joiningServer counts itself in the room")
			}
			// Once the answers are honest, the same join works.
			w.tamperSendJoin = nil
			if err := join.m.Join(t.Context(), joiningUser, roomID, []string{residentServer}, nil); err != nil {
				t.Errorf("honest join after a tampered one: %v", err)
			}
		})
	}
}

func TestOrderByAuth(t *testing.T) {
	w := newMemberWorld(t, residentServer)
	res := w.servers[residentServer]
	roomID := res.createRoom(t, residentUser, "public_chat")
	state, _ := res.rooms.CurrentState(t.Context(), roomID)
	var ids []string
	for _, e := range state {
		ids = append(ids, e.EventID)
	}
	infos, _ := res.rooms.Events(t.Context(), ids)
	var evs []*mxcore.PDU
	for i := len(infos) - 1; i >= 0; i-- { // reversed, and one repeated
		evs = append(evs, infos[i].Event)
	}
	evs = append(evs, infos[0].Event)
	ordered := orderByAuth(evs)
	if len(ordered) != len(infos) {
		t.Fatalf("%d events ordered, want %d", len(ordered), len(infos))
	}
	pos := map[string]int{}
	for i, ev := range ordered {
		pos[ev.EventID()] = i
	}
	for _, ev := range ordered {
		for _, a := range authRefsOf(ev) {
			if p, ok := pos[a]; ok && p > pos[ev.EventID()] {
				t.Errorf("%s comes before its auth event %s", ev.EventID(), a)
			}
		}
	}
}

func TestRestrictedJoin(t *testing.T) {
	w := newMemberWorld(t, residentServer, joiningServer)
	res, join := w.servers[residentServer], w.servers[joiningServer]
	space := res.createRoom(t, residentUser, "public_chat")
	rules := func(allowed string) roomserver.InitialStateEvent {
		content, _ := json.Marshal(map[string]any{"join_rule": "restricted", "allow": []map[string]string{{"type": "m.room_membership", "room_id": allowed}}})
		return roomserver.InitialStateEvent{Type: "m.room.join_rules", Content: content}
	}
	restricted := res.createRoom(t, residentUser, "private_chat", rules(space))
	elsewhere := res.createRoom(t, residentUser, "private_chat", rules("!unknown:elsewhere.test"))

	status, body := w.call(residentServer, joiningServer, "GET", makeMembershipPath("join", restricted, joiningUser)+"?ver=12", nil)
	wantMemberError(t, status, body, http.StatusForbidden, "M_FORBIDDEN")
	status, body = w.call(residentServer, joiningServer, "GET", makeMembershipPath("join", elsewhere, joiningUser)+"?ver=12", nil)
	wantMemberError(t, status, body, http.StatusBadRequest, "M_UNABLE_TO_AUTHORISE_JOIN")

	if err := join.m.Join(t.Context(), joiningUser, space, []string{residentServer}, nil); err != nil {
		t.Fatal(err)
	}
	status, body = w.call(residentServer, joiningServer, "GET", makeMembershipPath("join", restricted, joiningUser)+"?ver=12", nil)
	if status != http.StatusOK || body.Get("event.content.join_authorised_via_users_server").Str != residentUser {
		t.Fatalf("make_join of a restricted room for a member of the allowed room: %d %s", status, body.Raw)
	}
	if err := join.m.Join(t.Context(), joiningUser, restricted, []string{residentServer}, nil); err != nil {
		t.Fatal(err)
	}
	ev, err := join.rooms.CurrentStateEvent(t.Context(), restricted, "m.room.member", joiningUser)
	if err != nil || !gjson.GetBytes(ev.JSON(), `signatures.resident\.test`).Exists() {
		t.Errorf("bob's restricted join lacks the authorising server's signature: %v", err)
	}
	if got := res.membership(t, restricted, joiningUser); got != "join" {
		t.Errorf("resident has joiningUser as %q in the restricted room", got)
	}
}
