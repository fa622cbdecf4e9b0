package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestAccountModeration: a server admin locks an account (its requests
// answer 401 M_USER_LOCKED with soft_logout, it cannot log in, it can log
// out, and unlocking restores its session), then suspends it (it may read
// but not send: 403 M_USER_SUSPENDED), while a non-admin may do neither.
func TestAccountModeration(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		s.RegisterUser("admin", "admin-password", true)
		admin := roomUser{t: t, s: s, id: "@admin:" + s.Name, token: s.Login("admin", "admin-password")}
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
		bob.ok("POST", "/join/"+url.PathEscape(roomID), map[string]any{})

		lock := clientV1 + "/admin/lock/" + url.PathEscape(bob.id)
		want(t, s.Do("PUT", lock, map[string]any{"locked": true}, alice.token), http.StatusForbidden, "M_FORBIDDEN")
		want(t, s.Do("PUT", lock, map[string]any{"locked": true}, admin.token), http.StatusOK, "")
		locked := want(t, s.Do("GET", clientV3+"/sync", nil, bob.token), http.StatusUnauthorized, "M_USER_LOCKED")
		if locked["soft_logout"] != true {
			t.Errorf("locked answer %v", locked)
		}
		login := map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "bob"}, "password": "bob-password"}
		want(t, s.Do("POST", clientV3+"/login", login, ""), http.StatusUnauthorized, "M_USER_LOCKED")
		if got := want(t, s.Do("GET", lock, nil, admin.token), http.StatusOK, ""); got["locked"] != true {
			t.Errorf("GET lock %v", got)
		}
		want(t, s.Do("PUT", lock, map[string]any{"locked": false}, admin.token), http.StatusOK, "")
		bob.ok("GET", "/account/whoami", nil)

		suspend := clientV1 + "/admin/suspend/" + url.PathEscape(bob.id)
		want(t, s.Do("PUT", suspend, map[string]any{"suspended": true}, admin.token), http.StatusOK, "")
		bob.wantErr(bob.do("PUT", roomPath(roomID, "/send/m.room.message/s1"), map[string]any{"msgtype": "m.text", "body": "x"}), http.StatusForbidden, "M_USER_SUSPENDED")
		bob.ok("GET", roomPath(roomID, "/messages?dir=b"), nil)
		bob.ok("GET", "/sync", nil)
		want(t, s.Do("PUT", suspend, map[string]any{"suspended": false}, admin.token), http.StatusOK, "")
		bob.send(roomID, "s2", "back again")

		caps, _ := admin.ok("GET", "/capabilities", nil)["capabilities"].(map[string]any)
		if m, _ := caps["m.account_moderation"].(map[string]any); m["lock"] != true || m["suspend"] != true {
			t.Errorf("admin capabilities %v", caps)
		}
	})
}

// TestLoginTokenAndSupport: with login.get_token on, a logged-in user
// proves their password and gets a token that logs a second client in
// once; /.well-known/matrix/support lists the configured contacts.
func TestLoginTokenAndSupport(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend, "WARBLER_LOGIN__GET_TOKEN__ENABLED=true",
			"WARBLER_WELL_KNOWN__SUPPORT__ADMIN__MATRIX_ID=@admin:example.org",
			"WARBLER_WELL_KNOWN__SUPPORT__PAGE=https://example.org/help")
		alice := newRoomUser(t, s, "alice")
		flows, _ := want(t, s.Do("GET", clientV3+"/login", nil, ""), http.StatusOK, "")["flows"].([]any)
		offered := false
		for _, f := range flows {
			if flow, _ := f.(map[string]any); flow["type"] == "m.login.token" && flow["get_login_token"] == true {
				offered = true
			}
		}
		if !offered {
			t.Errorf("flows %v", flows)
		}
		caps, _ := alice.ok("GET", "/capabilities", nil)["capabilities"].(map[string]any)
		if c, _ := caps["m.get_login_token"].(map[string]any); c["enabled"] != true {
			t.Errorf("capabilities %v", caps)
		}
		resp := withUIA(t, s, "POST", clientV1+"/login/get_token", map[string]any{}, alice.token, "alice", "alice-password")
		token := str(want(t, resp, http.StatusOK, ""), "login_token")
		tokenLogin := map[string]any{"type": "m.login.token", "token": token}
		second := want(t, s.Do("POST", clientV3+"/login", tokenLogin, ""), http.StatusOK, "")
		if str(second, "user_id") != alice.id {
			t.Errorf("token login %v", second)
		}
		want(t, s.Do("POST", clientV3+"/login", tokenLogin, ""), http.StatusForbidden, "M_FORBIDDEN")

		support := want(t, s.Do("GET", "/.well-known/matrix/support", nil, ""), http.StatusOK, "")
		contacts, _ := support["contacts"].([]any)
		if len(contacts) != 1 || str(support, "support_page") != "https://example.org/help" {
			t.Errorf("support %v", support)
		} else if c, _ := contacts[0].(map[string]any); c["role"] != "m.role.admin" || c["matrix_id"] != "@admin:example.org" {
			t.Errorf("contact %v", c)
		}
	})
}

// TestAccountGapEndpoints: the 3PID endpoints refuse as a server without
// email, SMS or identity servers, users can be reported, mutual rooms are
// listed, and a second identical reaction is refused.
func TestAccountGapEndpoints(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		emailBody := map[string]any{"client_secret": "secret", "email": "alice@example.org", "send_attempt": 1}
		want(t, s.Do("POST", clientV3+"/register/email/requestToken", emailBody, ""), http.StatusForbidden, "M_THREEPID_DENIED")
		want(t, s.Do("POST", clientV3+"/account/password/email/requestToken", emailBody, ""), http.StatusBadRequest, "M_THREEPID_NOT_FOUND")
		want(t, s.Do("POST", clientV3+"/account/3pid/email/requestToken", map[string]any{"email": "a@b"}, ""), http.StatusBadRequest, "M_MISSING_PARAM")
		unbind := alice.ok("POST", "/account/3pid/delete", map[string]any{"medium": "email", "address": "alice@example.org"})
		if str(unbind, "id_server_unbind_result") != "no-support" {
			t.Errorf("delete %v", unbind)
		}

		alice.ok("POST", "/users/"+url.PathEscape(bob.id)+"/report", map[string]any{"reason": "spam"})
		alice.ok("POST", "/users/"+url.PathEscape("@nobody:"+s.Name)+"/report", map[string]any{"reason": "spam"})

		roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
		bob.ok("POST", "/join/"+url.PathEscape(roomID), map[string]any{})
		mutual := want(t, s.Do("GET", clientV1+"/mutual_rooms?user_id="+url.QueryEscape(bob.id), nil, alice.token), http.StatusOK, "")
		if joined, _ := mutual["joined"].([]any); len(joined) != 1 || joined[0] != roomID || mutual["count"] != float64(1) {
			t.Errorf("mutual rooms %v", mutual)
		}
		want(t, s.Do("GET", clientV1+"/mutual_rooms?user_id="+url.QueryEscape(alice.id), nil, alice.token), http.StatusBadRequest, "M_INVALID_PARAM")

		eventID := alice.send(roomID, "m1", "react to me")
		reaction := map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": eventID, "key": "+1"}}
		bob.ok("PUT", roomPath(roomID, "/send/m.reaction/r1"), reaction)
		bob.wantErr(bob.do("PUT", roomPath(roomID, "/send/m.reaction/r2"), reaction), http.StatusBadRequest, "M_DUPLICATE_ANNOTATION")
	})
}
