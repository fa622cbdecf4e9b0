package sytest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// The tests in this file fill the gaps an audit found between the error
// responses the client-server OpenAPI lists for each endpoint on the
// server and the scenarios that already check them (rooms_errors_test.go,
// aliases_test.go, messages_test.go, account_test.go, register_test.go,
// session_test.go, search_test.go, relations_mautrix_test.go).

// TestAuditEndpointsNeedAToken: the endpoints that TestRoomEndpointsNeedAToken
// does not list answer 401 M_MISSING_TOKEN without a token and
// M_UNKNOWN_TOKEN with a wrong one.
func TestAuditEndpointsNeedAToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		me := url.PathEscape("@alice:" + s.Name)
		room := roomPath("!nowhere:"+s.Name, "")
		alias := aliasPath("#tea:" + s.Name)
		endpoints := []struct{ method, path string }{
			{"GET", clientV3 + "/sync"}, {"POST", clientV3 + "/user/" + me + "/filter"},
			{"GET", clientV3 + "/user/" + me + "/filter/0"},
			{"POST", clientV3 + "/logout"}, {"POST", clientV3 + "/logout/all"},
			{"GET", clientV3 + "/devices/DEV"}, {"PUT", clientV3 + "/devices/DEV"},
			{"DELETE", clientV3 + "/devices/DEV"},
			{"PUT", clientV3 + "/profile/" + me + "/displayname"}, {"DELETE", clientV3 + "/profile/" + me + "/displayname"},
			{"GET", clientV3 + "/capabilities"}, {"POST", clientV3 + "/search"},
			{"GET", clientV3 + room + "/messages?dir=b"}, {"GET", clientV3 + room + "/context/$e"},
			{"PUT", clientV3 + alias}, {"DELETE", clientV3 + alias}, {"GET", clientV3 + room + "/aliases"},
			{"GET", clientV1 + room + "/relations/$e"}, {"GET", clientV1 + room + "/threads"},
			{"GET", clientV1 + "/admin/lock/" + me}, {"PUT", clientV1 + "/admin/lock/" + me},
			{"GET", clientV1 + "/admin/suspend/" + me}, {"PUT", clientV1 + "/admin/suspend/" + me},
			{"POST", clientV1 + "/login/get_token"}, {"GET", clientV1 + "/mutual_rooms?user_id=" + me},
			{"POST", clientV3 + "/users/" + me + "/report"}, {"POST", clientV3 + "/account/3pid"},
			{"POST", clientV3 + "/account/3pid/add"}, {"POST", clientV3 + "/account/3pid/bind"},
			{"POST", clientV3 + "/account/3pid/delete"}, {"POST", clientV3 + "/account/3pid/unbind"},
		}
		for _, e := range endpoints {
			what := e.method + " " + e.path
			wantRoomErr(t, what+" without a token", s.Do(e.method, e.path, map[string]any{}, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
			wantRoomErr(t, what+" with a wrong token", s.Do(e.method, e.path, map[string]any{}, "not-a-token"), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		}
	})
}

const clientV1 = "/_matrix/client/v1"

// auditCase is one request that must fail with status and errcode.
type auditCase struct {
	name         string
	who          roomUser
	method, path string
	body         any
	status       int
	errcode      string
}

// auditRooms is the cast and rooms of TestAuditRoomErrors: in room
// (public) alice is the creator, bob a member at level 0 and carol banned;
// eve is in no room. In locked (private) inviting needs level 50.
type auditRooms struct {
	alice, bob, carol, eve    roomUser
	room, locked, msg, server string
}

func newAuditRooms(t *testing.T, s *harness.Server) auditRooms {
	t.Helper()
	r := auditRooms{
		alice: newRoomUser(t, s, "alice"), bob: newRoomUser(t, s, "bob"),
		carol: newRoomUser(t, s, "carol"), eve: newRoomUser(t, s, "eve"),
		server: s.Name,
	}
	r.room = r.alice.createRoom(map[string]any{"preset": "public_chat"})
	r.bob.ok("POST", roomPath(r.room, "/join"), map[string]any{})
	r.carol.ok("POST", roomPath(r.room, "/join"), map[string]any{})
	r.alice.ok("POST", roomPath(r.room, "/ban"), map[string]any{"user_id": r.carol.id})
	r.msg = r.alice.send(r.room, "audit", "hello")
	r.locked = r.alice.createRoom(map[string]any{"preset": "private_chat", "invite": []string{r.bob.id},
		"power_level_content_override": map[string]any{"invite": 50}})
	r.bob.ok("POST", roomPath(r.locked, "/join"), map[string]any{})
	return r
}

// TestAuditRoomErrors: the membership, power level, bad body and unknown
// room errors the OpenAPI lists that no other scenario checks.
func TestAuditRoomErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		r := newAuditRooms(t, s)
		cases := append(membershipAuditCases(r), accountAuditCases(r)...)
		cases = append(cases, badBodyAuditCases(r)...)
		cases = append(cases, unknownRoomAuditCases(r, "!unknown:"+s.Name)...)
		for _, c := range cases {
			wantRoomErr(t, c.name, doAudit(c), c.status, c.errcode)
		}
		// Nothing above changed the rooms' membership.
		members := r.alice.ok("GET", roomPath(r.room, "/joined_members"), nil)["joined"].(map[string]any)
		if len(members) != 2 || members[r.alice.id] == nil || members[r.bob.id] == nil {
			t.Errorf("joined members after the refused requests: %v", members)
		}
		if locked := r.alice.ok("GET", roomPath(r.locked, "/joined_members"), nil)["joined"].(map[string]any); len(locked) != 2 {
			t.Errorf("locked room's members after the refused requests: %v", locked)
		}
	})
}

// membershipAuditCases: the 403 reasons inviting.yaml, joining.yaml,
// kicking.yaml and banning.yaml give.
func membershipAuditCases(r auditRooms) []auditCase {
	room, locked := r.room, r.locked
	return []auditCase{
		{"invite: invitee is banned", r.alice, "POST", roomPath(room, "/invite"), map[string]any{"user_id": r.carol.id}, 403, "M_FORBIDDEN"},
		{"invite: invitee already a member", r.alice, "POST", roomPath(room, "/invite"), map[string]any{"user_id": r.bob.id}, 403, "M_FORBIDDEN"},
		{"invite: power level too low", r.bob, "POST", roomPath(locked, "/invite"), map[string]any{"user_id": r.eve.id}, 403, "M_FORBIDDEN"},
		{"join: invite-only, not invited", r.eve, "POST", roomPath(locked, "/join"), map[string]any{}, 403, "M_FORBIDDEN"},
		{"join by ID: invite-only, not invited", r.eve, "POST", "/join/" + url.PathEscape(locked), map[string]any{}, 403, "M_FORBIDDEN"},
		{"join: banned", r.carol, "POST", roomPath(room, "/join"), map[string]any{}, 403, "M_FORBIDDEN"},
		{"join by ID: banned", r.carol, "POST", "/join/" + url.PathEscape(room), map[string]any{}, 403, "M_FORBIDDEN"},
		{"kick: kicker not in the room", r.eve, "POST", roomPath(room, "/kick"), map[string]any{"user_id": r.bob.id}, 403, "M_FORBIDDEN"},
		{"kick: kickee not in the room", r.alice, "POST", roomPath(room, "/kick"), map[string]any{"user_id": r.eve.id}, 403, "M_FORBIDDEN"},
		{"ban: banner not in the room", r.eve, "POST", roomPath(room, "/ban"), map[string]any{"user_id": r.bob.id}, 403, "M_FORBIDDEN"},
		{"unban: unbanner not in the room", r.eve, "POST", roomPath(room, "/unban"), map[string]any{"user_id": r.carol.id}, 403, "M_FORBIDDEN"},
		{"unban: power level too low", r.bob, "POST", roomPath(room, "/unban"), map[string]any{"user_id": r.carol.id}, 403, "M_FORBIDDEN"},
		{"aliases: not a room ID", r.alice, "GET", roomPath("not-a-room", "/aliases"), nil, 400, "M_INVALID_PARAM"},
		{"relations: unknown event", r.alice, "GET", clientV1 + roomPath(room, "/relations/$nope"), nil, 404, "M_NOT_FOUND"},
		{"threads: unknown include", r.alice, "GET", clientV1 + roomPath(room, "/threads?include=mine"), nil, 400, "M_INVALID_PARAM"},
	}
}

// accountAuditCases: filter.yaml's 404 and profile.yaml's errors for
// deleting fields and for oversized keys.
func accountAuditCases(r auditRooms) []auditCase {
	alice, bob := url.PathEscape(r.alice.id), url.PathEscape(r.bob.id)
	bobsFilter := str(r.bob.ok("POST", "/user/"+bob+"/filter", map[string]any{}), "filter_id")
	longKey := "org.example." + strings.Repeat("k", 250)
	return []auditCase{
		{"filter: unknown filter", r.alice, "GET", "/user/" + alice + "/filter/12345", nil, 404, "M_NOT_FOUND"},
		{"filter: another user's", r.alice, "GET", "/user/" + bob + "/filter/" + url.PathEscape(bobsFilter), nil, 404, "M_NOT_FOUND"},
		{"profile: delete another user's field", r.alice, "DELETE", "/profile/" + bob + "/displayname", nil, 403, "M_FORBIDDEN"},
		{"profile: delete an invalid key", r.alice, "DELETE", "/profile/" + alice + "/Not-A-Key", nil, 400, "M_INVALID_PARAM"},
		{"profile: key too large", r.alice, "PUT", "/profile/" + alice + "/" + longKey, map[string]any{longKey: "x"}, 400, "M_KEY_TOO_LARGE"},
	}
}

// badBodyAuditCases: malformed JSON is M_NOT_JSON and well-formed JSON of
// the wrong shape M_BAD_JSON, on endpoints whose checks no other
// scenario makes.
func badBodyAuditCases(r auditRooms) []auditCase {
	room, a := r.room, r.alice
	notJSON := []byte(`{"user_id":`)
	cases := []auditCase{
		{"createRoom: name not a string", a, "POST", "/createRoom", map[string]any{"name": 5}, 400, "M_BAD_JSON"},
		{"createRoom: invite not a list", a, "POST", "/createRoom", map[string]any{"invite": "@bob:x"}, 400, "M_BAD_JSON"},
		{"invite: user_id not a string", a, "POST", roomPath(room, "/invite"), map[string]any{"user_id": 5}, 400, "M_BAD_JSON"},
		{"filter: limit not a number", a, "POST", "/user/" + url.PathEscape(a.id) + "/filter",
			map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": "ten"}}}, 400, "M_BAD_JSON"},
		{"alias: room_id not a string", a, "PUT", aliasPath("#bad:" + r.server), map[string]any{"room_id": 5}, 400, "M_BAD_JSON"},
	}
	for _, p := range []struct{ method, path string }{
		{"POST", roomPath(room, "/invite")}, {"POST", roomPath(room, "/kick")}, {"POST", roomPath(room, "/ban")},
		{"POST", roomPath(room, "/unban")}, {"POST", roomPath(room, "/leave")}, {"POST", roomPath(room, "/join")},
		{"POST", "/join/" + url.PathEscape(room)}, {"PUT", roomPath(room, "/redact/"+r.msg+"/nj")},
		{"PUT", aliasPath("#bad:" + r.server)}, {"POST", "/user/" + url.PathEscape(a.id) + "/filter"},
		{"PUT", "/devices/NOSUCH"},
	} {
		cases = append(cases, auditCase{p.method + " " + p.path + ": not JSON", a, p.method, p.path, notJSON, 400, "M_NOT_JSON"})
	}
	return cases
}

// unknownRoomAuditCases: a room the server does not know is one the user
// is not in: 403 where the OpenAPI lists 403 for non-members, 404 where
// it lists 404 for events the user cannot see.
func unknownRoomAuditCases(r auditRooms, unknown string) []auditCase {
	a := r.alice
	return []auditCase{
		{"unknown room: invite", a, "POST", roomPath(unknown, "/invite"), map[string]any{"user_id": r.bob.id}, 403, "M_FORBIDDEN"},
		{"unknown room: kick", a, "POST", roomPath(unknown, "/kick"), map[string]any{"user_id": r.bob.id}, 403, "M_FORBIDDEN"},
		{"unknown room: ban", a, "POST", roomPath(unknown, "/ban"), map[string]any{"user_id": r.bob.id}, 403, "M_FORBIDDEN"},
		{"unknown room: unban", a, "POST", roomPath(unknown, "/unban"), map[string]any{"user_id": r.bob.id}, 403, "M_FORBIDDEN"},
		{"unknown room: leave", a, "POST", roomPath(unknown, "/leave"), map[string]any{}, 403, "M_FORBIDDEN"},
		{"unknown room: members", a, "GET", roomPath(unknown, "/members"), nil, 403, "M_FORBIDDEN"},
		{"unknown room: joined_members", a, "GET", roomPath(unknown, "/joined_members"), nil, 403, "M_FORBIDDEN"},
		{"unknown room: state event", a, "GET", roomPath(unknown, "/state/m.room.create/"), nil, 403, "M_FORBIDDEN"},
		{"unknown room: redact", a, "PUT", roomPath(unknown, "/redact/"+r.msg+"/u"), map[string]any{}, 403, "M_FORBIDDEN"},
		{"unknown room: aliases", a, "GET", roomPath(unknown, "/aliases"), nil, 403, "M_FORBIDDEN"},
		{"unknown room: event", a, "GET", roomPath(unknown, "/event/"+r.msg), nil, 404, "M_NOT_FOUND"},
		{"unknown room: context", a, "GET", roomPath(unknown, "/context/"+r.msg), nil, 404, "M_NOT_FOUND"},
		{"unknown room: relations", a, "GET", clientV1 + roomPath(unknown, "/relations/"+r.msg), nil, 404, "M_NOT_FOUND"},
		{"unknown room: threads", a, "GET", clientV1 + roomPath(unknown, "/threads"), nil, 403, "M_FORBIDDEN"},
		{"unknown room: alias to it", a, "PUT", aliasPath("#ghost:" + r.server), map[string]any{"room_id": unknown}, 403, "M_FORBIDDEN"},
	}
}

// doAudit sends a case's request: paths under /_matrix as they are,
// others under the client-server v3 prefix.
func doAudit(c auditCase) harness.Response {
	c.who.t.Helper()
	if strings.HasPrefix(c.path, "/_matrix/") {
		return c.who.s.Do(c.method, c.path, c.body, c.who.token)
	}
	return c.who.do(c.method, c.path, c.body)
}
