package sytest

import (
	"net/http"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

func TestChangePassword(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		register(t, s, map[string]any{"username": "alice", "password": "old-pw", "device_id": "ONE"})
		current := s.Login("alice", "old-pw")
		other := s.Login("alice", "old-pw")
		path := clientV3 + "/account/password"

		want(t, s.Do("POST", path, map[string]any{}, current), 400, "M_MISSING_PARAM")
		session := wantChallenge(t, s.Do("POST", path, map[string]any{"new_password": "new-pw"}, current), "", "m.login.password")
		wrong := s.Do("POST", path, map[string]any{"new_password": "new-pw", "auth": passwordAuth(session, "alice", "guess")}, current)
		if wantChallenge(t, wrong, "M_FORBIDDEN", "m.login.password") != session {
			t.Error("a wrong password started a new session")
		}
		// The password stage must name the caller.
		register(t, s, map[string]any{"username": "mallory", "password": "m-pw"})
		mallory := s.Do("POST", path, map[string]any{"new_password": "new-pw", "auth": passwordAuth(session, "mallory", "m-pw")}, current)
		wantChallenge(t, mallory, "M_FORBIDDEN", "m.login.password")
		want(t, s.Do("POST", path, map[string]any{"new_password": "new-pw", "auth": passwordAuth(session, "alice", "old-pw")}, current), 200, "")

		// logout_devices defaults to true but keeps the caller's session.
		want(t, s.Do("GET", clientV3+"/account/whoami", nil, current), 200, "")
		want(t, s.Do("GET", clientV3+"/account/whoami", nil, other), 401, "M_UNKNOWN_TOKEN")
		want(t, s.Do("POST", clientV3+"/login", map[string]any{"type": "m.login.password", "user": "alice", "password": "old-pw"}, ""), 403, "M_FORBIDDEN")
		kept := s.Login("alice", "new-pw")

		// logout_devices: false leaves the other sessions alone.
		resp := withUIA(t, s, "POST", path, map[string]any{"new_password": "newer-pw", "logout_devices": false}, current, "alice", "new-pw")
		want(t, resp, 200, "")
		want(t, s.Do("GET", clientV3+"/account/whoami", nil, kept), 200, "")

		// Without an access token, the password stage names the account,
		// and every session ends.
		resp = withUIA(t, s, "POST", path, map[string]any{"new_password": "newest-pw"}, "", "alice", "newer-pw")
		want(t, resp, 200, "")
		for _, tok := range []string{current, kept} {
			want(t, s.Do("GET", clientV3+"/account/whoami", nil, tok), 401, "M_UNKNOWN_TOKEN")
		}
		s.Login("alice", "newest-pw")
		want(t, s.Do("POST", path, map[string]any{"new_password": "x"}, "wat_bogus"), 401, "M_UNKNOWN_TOKEN")
	})
}

func TestDeactivateAccount(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		register(t, s, map[string]any{"username": "bob", "password": "pw"})
		token := s.Login("bob", "pw")
		other := s.Login("bob", "pw")
		path := clientV3 + "/account/deactivate"

		session := wantChallenge(t, s.Do("POST", path, map[string]any{"erase": true}, token), "", "m.login.password")
		wantChallenge(t, s.Do("POST", path, map[string]any{"erase": true, "auth": passwordAuth(session, "bob", "nope")}, token), "M_FORBIDDEN", "m.login.password")
		body := want(t, s.Do("POST", path, map[string]any{"erase": true, "auth": passwordAuth(session, "bob", "pw")}, token), 200, "")
		if body["id_server_unbind_result"] != "success" {
			t.Errorf("deactivate: %v", body)
		}
		for _, tok := range []string{token, other} {
			want(t, s.Do("GET", clientV3+"/account/whoami", nil, tok), 401, "M_UNKNOWN_TOKEN")
		}
		want(t, s.Do("POST", clientV3+"/login", map[string]any{"type": "m.login.password", "user": "bob", "password": "pw"}, ""), 403, "M_FORBIDDEN")
		want(t, s.Do("GET", clientV3+"/profile/@bob:"+s.Name, nil, ""), 404, "M_NOT_FOUND")
		// The user ID stays taken.
		want(t, s.Do("GET", clientV3+"/register/available?username=bob", nil, ""), 400, "M_USER_IN_USE")
	})
}

func TestDevices(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		register(t, s, map[string]any{"username": "carol", "password": "pw", "device_id": "FIRST"})
		token := s.Login("carol", "pw")
		loginSecond := want(t, s.Do("POST", clientV3+"/login", map[string]any{
			"type": "m.login.password", "user": "carol", "password": "pw", "device_id": "SECOND", "initial_device_display_name": "Laptop",
		}, ""), 200, "")
		second := str(loginSecond, "access_token")

		list := want(t, s.Do("GET", clientV3+"/devices", nil, token), 200, "")
		devices, _ := list["devices"].([]any)
		if len(devices) != 3 {
			t.Fatalf("devices: %v", list)
		}
		for _, d := range devices {
			dev := d.(map[string]any)
			if dev["device_id"] == "" || dev["last_seen_ts"] == nil || dev["last_seen_ip"] != "127.0.0.1" {
				t.Errorf("device entry: %v", dev)
			}
		}
		want(t, s.Do("GET", clientV3+"/devices/NOSUCH", nil, token), 404, "M_NOT_FOUND")
		want(t, s.Do("PUT", clientV3+"/devices/SECOND", map[string]any{"display_name": "Work laptop"}, token), 200, "")
		if d := want(t, s.Do("GET", clientV3+"/devices/SECOND", nil, token), 200, ""); d["display_name"] != "Work laptop" {
			t.Errorf("renamed device: %v", d)
		}
		want(t, s.Do("PUT", clientV3+"/devices/NOSUCH", map[string]any{"display_name": "x"}, token), 404, "M_NOT_FOUND")
		want(t, s.Do("PUT", clientV3+"/devices/SECOND", []byte(`{"display_name": 7}`), token), 400, "M_BAD_JSON")
		want(t, s.Do("GET", clientV3+"/devices", nil, ""), 401, "M_MISSING_TOKEN")

		// Deleting needs the password, and ends the device's session.
		want(t, withUIA(t, s, "DELETE", clientV3+"/devices/SECOND", map[string]any{}, token, "carol", "pw"), 200, "")
		want(t, s.Do("GET", clientV3+"/account/whoami", nil, second), 401, "M_UNKNOWN_TOKEN")
		// A device that is already gone still answers 200.
		want(t, withUIA(t, s, "DELETE", clientV3+"/devices/SECOND", map[string]any{}, token, "carol", "pw"), 200, "")

		want(t, s.Do("POST", clientV3+"/delete_devices", map[string]any{}, token), 400, "M_MISSING_PARAM")
		resp := withUIA(t, s, "POST", clientV3+"/delete_devices", map[string]any{"devices": []string{"FIRST", "GONE"}}, token, "carol", "pw")
		want(t, resp, 200, "")
		list = want(t, s.Do("GET", clientV3+"/devices", nil, token), 200, "")
		if n := len(list["devices"].([]any)); n != 1 {
			t.Errorf("%d devices left, want only the caller's: %v", n, list)
		}
		session := wantChallenge(t, s.Do("POST", clientV3+"/delete_devices", map[string]any{"devices": []string{"X"}}, token), "", "m.login.password")
		wantChallenge(t, s.Do("POST", clientV3+"/delete_devices", map[string]any{"devices": []string{"X"}, "auth": passwordAuth(session, "carol", "bad")}, token), "M_FORBIDDEN", "m.login.password")
		want(t, s.Do("POST", clientV3+"/delete_devices", map[string]any{"devices": []string{"X"}}, "wat_bogus"), 401, "M_UNKNOWN_TOKEN")
	})
}

func TestProfilesAndCapabilities(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice := str(register(t, s, map[string]any{"username": "alice", "password": "pw"}), "access_token")
		register(t, s, map[string]any{"username": "bob", "password": "pw"})
		me := clientV3 + "/profile/@alice:" + s.Name
		want(t, s.Do("PUT", me+"/displayname", map[string]any{"displayname": "Alice Liddell"}, alice), 200, "")
		want(t, s.Do("PUT", me+"/avatar_url", map[string]any{"avatar_url": "mxc://example.org/rabbit"}, alice), 200, "")
		profile := want(t, s.Do("GET", me, nil, ""), 200, "")
		if profile["displayname"] != "Alice Liddell" || profile["avatar_url"] != "mxc://example.org/rabbit" {
			t.Errorf("profile: %v", profile)
		}
		if got := want(t, s.Do("GET", me+"/displayname", nil, ""), 200, ""); got["displayname"] != "Alice Liddell" {
			t.Errorf("displayname: %v", got)
		}
		want(t, s.Do("DELETE", me+"/avatar_url", nil, alice), 200, "")
		want(t, s.Do("GET", me+"/avatar_url", nil, ""), 404, "M_NOT_FOUND")

		cases := []struct {
			name, method, path string
			body               any
			token              string
			status             int
			errcode            string
		}{
			{"unknown user", "GET", clientV3 + "/profile/@nobody:" + s.Name, nil, "", 404, "M_NOT_FOUND"},
			{"remote user", "GET", clientV3 + "/profile/@alice:elsewhere.example", nil, "", 404, "M_NOT_FOUND"},
			{"not a user ID", "GET", clientV3 + "/profile/alice", nil, "", 400, "M_INVALID_PARAM"},
			{"field never set", "GET", me + "/m.tz", nil, "", 404, "M_NOT_FOUND"},
			{"invalid key", "GET", me + "/Not-A-Key", nil, "", 400, "M_INVALID_PARAM"},
			{"another user's profile", "PUT", clientV3 + "/profile/@bob:" + s.Name + "/displayname", map[string]any{"displayname": "x"}, alice, 403, "M_FORBIDDEN"},
			{"no token", "PUT", me + "/displayname", map[string]any{"displayname": "x"}, "", 401, "M_MISSING_TOKEN"},
			{"missing value", "PUT", me + "/displayname", map[string]any{"other": "x"}, alice, 400, "M_MISSING_PARAM"},
			{"not a string", "PUT", me + "/displayname", map[string]any{"displayname": 5}, alice, 400, "M_BAD_JSON"},
			{"not JSON", "PUT", me + "/displayname", []byte(`{"displayname"`), alice, 400, "M_NOT_JSON"},
			{"not mxc", "PUT", me + "/avatar_url", map[string]any{"avatar_url": "https://x/y"}, alice, 400, "M_INVALID_PARAM"},
			{"unsupported field", "PUT", me + "/org.example.job", map[string]any{"org.example.job": "x"}, alice, 403, "M_FORBIDDEN"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { want(t, s.Do(tc.method, tc.path, tc.body, tc.token), tc.status, tc.errcode) })
		}

		caps := want(t, s.Do("GET", clientV3+"/capabilities", nil, alice), 200, "")["capabilities"].(map[string]any)
		for key, enabled := range map[string]bool{"m.change_password": true, "m.set_displayname": true, "m.set_avatar_url": true, "m.3pid_changes": false} {
			if c, _ := caps[key].(map[string]any); c["enabled"] != enabled {
				t.Errorf("%s = %v, want enabled %v", key, caps[key], enabled)
			}
		}
		versions := caps["m.room_versions"].(map[string]any)
		available := versions["available"].(map[string]any)
		if versions["default"] != "12" || len(available) != 12 || available["1"] != "stable" || available["12"] != "stable" {
			t.Errorf("m.room_versions: %v", versions)
		}
		want(t, s.Do("GET", clientV3+"/capabilities", nil, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
	})
}
