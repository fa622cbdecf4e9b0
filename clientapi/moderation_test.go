package clientapi

import (
	"net/http"
	"net/url"
	"testing"
)

const v1 = "/_matrix/client/v1"

// newModerationEnv has alice and bob, and carol, a server admin.
func newModerationEnv(t *testing.T) (*syncEnv, string, string) {
	t.Helper()
	e := newSyncEnv(t)
	carol := e.createUser("carol", "pw-carol-1", false)
	if err := e.db.SetAdmin(t.Context(), carol, true); err != nil {
		t.Fatal(err)
	}
	return e, carol, e.login("carol", "pw-carol-1", nil).str("access_token")
}

func TestModerationEndpointErrors(t *testing.T) {
	e, carol, adminToken := newModerationEnv(t)
	dave := e.createUser("dave", "pw-dave-1", false)
	if err := e.db.SetAdmin(t.Context(), dave, true); err != nil {
		t.Fatal(err)
	}
	gone := e.createUser("gone", "pw-gone-1", false)
	if err := e.db.DeactivateUser(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, user, body, token string
		status                          int
		errcode                         string
	}{
		{"not an admin", "GET", e.bob, "", e.aliceToken, 403, "M_FORBIDDEN"},
		{"not an admin, unknown target", "PUT", "@nobody:example.org", `{"locked":true}`, e.aliceToken, 403, "M_FORBIDDEN"},
		{"remote user", "GET", "@bob:elsewhere.org", "", adminToken, 400, "M_INVALID_PARAM"},
		{"not a user ID", "GET", "bob", "", adminToken, 400, "M_INVALID_PARAM"},
		{"unknown user", "GET", "@nobody:example.org", "", adminToken, 404, "M_NOT_FOUND"},
		{"deactivated user", "PUT", gone, `{"locked":true}`, adminToken, 404, "M_NOT_FOUND"},
		{"another admin", "GET", dave, "", adminToken, 403, "M_FORBIDDEN"},
		{"self", "PUT", carol, `{"locked":true}`, adminToken, 403, "M_FORBIDDEN"},
		{"missing field", "PUT", e.bob, `{}`, adminToken, 400, "M_MISSING_PARAM"},
		{"wrong type", "PUT", e.bob, `{"locked":"yes"}`, adminToken, 400, "M_BAD_JSON"},
		{"not JSON", "PUT", e.bob, `locked`, adminToken, 400, "M_NOT_JSON"},
		{"no token", "GET", e.bob, "", "", 401, "M_MISSING_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.doRaw(tc.method, v1+"/admin/lock/"+url.PathEscape(tc.user), tc.body, tc.token)
			resp.want(t, tc.status, tc.errcode)
		})
	}
	// Nothing above changed bob.
	if u, _ := e.db.GetUser(t.Context(), e.bob); u.Locked || u.Suspended {
		t.Errorf("bob changed: %+v", u)
	}
	// An admin may read their own flags.
	e.do("GET", v1+"/admin/suspend/"+url.PathEscape(carol), nil, adminToken).want(t, 200, "")
}

func TestLockedAccount(t *testing.T) {
	e, _, adminToken := newModerationEnv(t)
	lockPath := v1 + "/admin/lock/" + url.PathEscape(e.bob)
	resp := e.do("GET", lockPath, nil, adminToken).want(t, 200, "")
	if resp.body["locked"] != false {
		t.Fatalf("GET lock: %v", resp.body)
	}
	secondToken := e.login("bob", "pw-bob-1", nil).str("access_token")
	resp = e.do("PUT", lockPath, map[string]any{"locked": true}, adminToken).want(t, 200, "")
	if resp.body["locked"] != true {
		t.Fatalf("PUT lock: %v", resp.body)
	}
	for _, path := range []string{v3 + "/account/whoami", v3 + "/sync", v3 + "/joined_rooms"} {
		resp = e.do("GET", path, nil, e.bobToken).want(t, 401, "M_USER_LOCKED")
		if resp.body["soft_logout"] != true {
			t.Errorf("%s: soft_logout %v", path, resp.body["soft_logout"])
		}
	}
	e.do("POST", v3+"/login", map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "bob"}, "password": "pw-bob-1"}, "").
		want(t, 401, "M_USER_LOCKED")
	// Logging out stays possible; the other session survives the lock.
	e.do("POST", v3+"/logout", map[string]any{}, secondToken).want(t, 200, "")
	e.do("PUT", lockPath, map[string]any{"locked": false}, adminToken).want(t, 200, "")
	e.do("GET", v3+"/account/whoami", nil, e.bobToken).want(t, 200, "")
	e.do("GET", v3+"/account/whoami", nil, secondToken).want(t, 401, "M_UNKNOWN_TOKEN")
}

func TestSuspendedAccount(t *testing.T) {
	e, _, adminToken := newModerationEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	aliceMsg := e.message(room, e.alice, "hello")
	bobMsg := e.message(room, e.bob, "hi")
	other := e.createRoom(e.alice)
	leaving := e.createRoom(e.alice, e.bob)
	e.membership(leaving, e.bob, "join")
	suspendPath := v1 + "/admin/suspend/" + url.PathEscape(e.bob)
	e.do("PUT", suspendPath, map[string]any{"suspended": true}, adminToken).want(t, 200, "")
	if resp := e.do("GET", suspendPath, nil, adminToken).want(t, 200, ""); resp.body["suspended"] != true {
		t.Fatalf("GET suspend: %v", resp.body)
	}
	rooms := v3 + "/rooms/" + url.PathEscape(room)
	refused := []struct{ method, path string }{
		{"PUT", rooms + "/send/m.room.message/t1"},
		{"PUT", rooms + "/state/m.room.topic"},
		{"POST", v3 + "/join/" + url.PathEscape(other)},
		{"POST", v3 + "/createRoom"},
		{"POST", rooms + "/invite"},
		{"PUT", v3 + "/profile/" + url.PathEscape(e.bob) + "/displayname"},
		{"PUT", rooms + "/redact/" + url.PathEscape(aliceMsg) + "/r1"},
		{"POST", v3 + "/account/3pid/delete"},
	}
	for _, c := range refused {
		e.doRaw(c.method, c.path, `{"msgtype":"m.text","body":"x","user_id":"@alice:example.org","displayname":"B"}`, e.bobToken).
			want(t, http.StatusForbidden, "M_USER_SUSPENDED")
	}
	caps, _ := e.do("GET", v3+"/capabilities", nil, e.bobToken).want(t, 200, "").body["capabilities"].(map[string]any)
	if c, _ := caps["m.set_displayname"].(map[string]any); c["enabled"] != false {
		t.Errorf("suspended m.set_displayname %v", caps["m.set_displayname"])
	}
	// Reading, redacting their own event and leaving still work.
	e.do("GET", v3+"/sync", nil, e.bobToken).want(t, 200, "")
	e.do("GET", rooms+"/messages?dir=b", nil, e.bobToken).want(t, 200, "")
	e.do("PUT", rooms+"/redact/"+url.PathEscape(bobMsg)+"/r2", map[string]any{}, e.bobToken).want(t, 200, "")
	e.do("POST", v3+"/rooms/"+url.PathEscape(leaving)+"/leave", map[string]any{}, e.bobToken).want(t, 200, "")
	// Lifting it lets bob act again.
	e.do("PUT", suspendPath, map[string]any{"suspended": false}, adminToken).want(t, 200, "")
	e.do("PUT", rooms+"/send/m.room.message/t3", map[string]any{"msgtype": "m.text", "body": "back"}, e.bobToken).want(t, 200, "")
	e.do("POST", rooms+"/leave", map[string]any{}, e.bobToken).want(t, 200, "")
}

func TestModerationCapability(t *testing.T) {
	e, _, adminToken := newModerationEnv(t)
	caps := func(token string) map[string]any {
		resp := e.do("GET", v3+"/capabilities", nil, token).want(t, 200, "")
		c, _ := resp.body["capabilities"].(map[string]any)
		return c
	}
	if m, ok := caps(adminToken)["m.account_moderation"].(map[string]any); !ok || m["lock"] != true || m["suspend"] != true {
		t.Errorf("admin: %v", caps(adminToken)["m.account_moderation"])
	}
	if _, ok := caps(e.aliceToken)["m.account_moderation"]; ok {
		t.Error("a non-admin is offered account moderation")
	}
}
