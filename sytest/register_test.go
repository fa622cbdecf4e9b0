package sytest

import (
	"strings"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

func TestRegistrationWithDummyAuth(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		// The first request gets the flows and nothing else.
		first := s.Do("POST", clientV3+"/register", map[string]any{"username": "alice", "password": "pw"}, "")
		wantChallenge(t, first, "", "m.login.dummy")
		for _, key := range []string{"errcode", "completed"} {
			if _, has := first.JSON(t)[key]; has {
				t.Errorf("first 401 has %s: %s", key, first.Body)
			}
		}
		body := register(t, s, map[string]any{
			"username": "Alice", "password": "pw", "device_id": "PHONE", "initial_device_display_name": "Alice's phone",
		})
		if str(body, "user_id") != "@alice:"+s.Name || str(body, "device_id") != "PHONE" || str(body, "access_token") == "" {
			t.Fatalf("register: %v", body)
		}
		token := str(body, "access_token")
		who := want(t, s.Do("GET", clientV3+"/account/whoami", nil, token), 200, "")
		if who["user_id"] != "@alice:"+s.Name || who["device_id"] != "PHONE" || who["is_guest"] != false {
			t.Errorf("whoami: %v", who)
		}
		device := want(t, s.Do("GET", clientV3+"/devices/PHONE", nil, token), 200, "")
		if device["display_name"] != "Alice's phone" {
			t.Errorf("device: %v", device)
		}
		profile := want(t, s.Do("GET", clientV3+"/profile/@alice:"+s.Name, nil, ""), 200, "")
		if profile["displayname"] != "alice" {
			t.Errorf("display name defaults to the localpart: %v", profile)
		}
		s.Login("alice", "pw")

		// Without a username the server picks one; inhibit_login gives no session.
		quiet := register(t, s, map[string]any{"password": "pw", "inhibit_login": true})
		if !strings.HasPrefix(str(quiet, "user_id"), "@") || quiet["access_token"] != nil || quiet["device_id"] != nil {
			t.Errorf("inhibit_login: %v", quiet)
		}
	})
}

func TestRegistrationErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		register(t, s, map[string]any{"username": "taken", "password": "pw"})
		reg := clientV3 + "/register"
		cases := []struct {
			name    string
			path    string
			body    any
			status  int
			errcode string
		}{
			{"in use", reg, map[string]any{"username": "taken", "password": "pw"}, 400, "M_USER_IN_USE"},
			{"in use, other case", reg, map[string]any{"username": "TAKEN", "password": "pw"}, 400, "M_USER_IN_USE"},
			{"invalid username", reg, map[string]any{"username": "not valid!", "password": "pw"}, 400, "M_INVALID_USERNAME"},
			{"colon in username", reg, map[string]any{"username": "a:b", "password": "pw"}, 400, "M_INVALID_USERNAME"},
			{"username too long", reg, map[string]any{"username": strings.Repeat("x", 250), "password": "pw"}, 400, "M_INVALID_USERNAME"},
			{"guest access off", reg + "?kind=guest", map[string]any{}, 403, "M_GUEST_ACCESS_FORBIDDEN"},
			{"unknown kind", reg + "?kind=robot", map[string]any{}, 400, "M_INVALID_PARAM"},
			{"not JSON", reg, []byte(`{"username":`), 400, "M_NOT_JSON"},
			{"wrong type", reg, []byte(`{"username": 5}`), 400, "M_BAD_JSON"},
			{"unknown session", reg, map[string]any{"username": "new", "password": "pw", "auth": map[string]any{"type": "m.login.dummy", "session": "nosuch"}}, 400, "M_UNKNOWN"},
			{"available: in use", clientV3 + "/register/available?username=taken", nil, 400, "M_USER_IN_USE"},
			{"available: invalid", clientV3 + "/register/available?username=%40bad%3Aname", nil, 400, "M_INVALID_USERNAME"},
			{"available: missing", clientV3 + "/register/available", nil, 400, "M_MISSING_PARAM"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				method := "POST"
				if strings.Contains(tc.path, "/available") {
					method = "GET"
				}
				want(t, s.Do(method, tc.path, tc.body, ""), tc.status, tc.errcode)
			})
		}
		if body := want(t, s.Do("GET", clientV3+"/register/available?username=free", nil, ""), 200, ""); body["available"] != true {
			t.Errorf("available: %v", body)
		}
		// After authentication a missing password is still refused.
		session := wantChallenge(t, s.Do("POST", reg, map[string]any{}, ""), "", "m.login.dummy")
		want(t, s.Do("POST", reg, map[string]any{"auth": map[string]any{"type": "m.login.dummy", "session": session}}, ""), 400, "M_MISSING_PARAM")
	})
}

func TestRegistrationDisabledAndGuests(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		closed := harness.Start(t, harness.Options{Backend: backend, Env: []string{"WARBLER_REGISTRATION__GUEST_ACCESS=true"}})
		want(t, closed.Do("POST", clientV3+"/register", map[string]any{"username": "x", "password": "pw"}, ""), 403, "M_FORBIDDEN")
		want(t, closed.Do("GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=abc", nil, ""), 403, "M_FORBIDDEN")

		guest := want(t, closed.Do("POST", clientV3+"/register?kind=guest", map[string]any{
			"username": "ignored", "device_id": "IGNORED", "initial_device_display_name": "Guest browser",
		}, ""), 200, "")
		if strings.Contains(str(guest, "user_id"), "ignored") || str(guest, "device_id") == "IGNORED" {
			t.Errorf("guest registration used parameters it must ignore: %v", guest)
		}
		token := str(guest, "access_token")
		who := want(t, closed.Do("GET", clientV3+"/account/whoami", nil, token), 200, "")
		if who["is_guest"] != true {
			t.Errorf("whoami of a guest: %v", who)
		}
		device := want(t, closed.Do("GET", clientV3+"/devices/"+str(guest, "device_id"), nil, token), 200, "")
		if device["display_name"] != "Guest browser" {
			t.Errorf("guest device: %v", device)
		}
		// Guests keep to what the guest access module allows.
		userPath := clientV3 + "/profile/" + str(guest, "user_id")
		want(t, closed.Do("PUT", userPath+"/displayname", map[string]any{"displayname": "Visitor"}, token), 200, "")
		want(t, closed.Do("PUT", userPath+"/avatar_url", map[string]any{"avatar_url": "mxc://a/b"}, token), 403, "M_GUEST_ACCESS_FORBIDDEN")
		want(t, closed.Do("GET", clientV3+"/capabilities", nil, token), 403, "M_GUEST_ACCESS_FORBIDDEN")
		want(t, closed.Do("POST", clientV3+"/account/password", map[string]any{"new_password": "x"}, token), 403, "M_GUEST_ACCESS_FORBIDDEN")
		want(t, closed.Do("POST", clientV3+"/account/deactivate", map[string]any{}, token), 403, "M_GUEST_ACCESS_FORBIDDEN")
	})
}
