package sytest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

func TestBadRequestsGetMatrixErrorsAndServerSurvives(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend, Env: []string{"WARBLER_HTTP__MAX_REQUEST_BYTES=4096"}})
		cases := []struct {
			name, method, path string
			body               any
			status             int
			errcode            string
		}{
			{"unknown endpoint", "GET", "/_matrix/client/v3/no/such/thing", nil, 404, "M_UNRECOGNIZED"},
			{"unknown namespace", "GET", "/nothing-here", nil, 404, "M_UNRECOGNIZED"},
			{"wrong method", "DELETE", "/_matrix/client/versions", nil, 405, "M_UNRECOGNIZED"},
			{"bad JSON", "POST", "/_matrix/client/v3/login", []byte(`{"type": "m.login.password",`), 400, "M_NOT_JSON"},
			{"JSON not an object", "POST", "/_matrix/client/v3/login", []byte(`[1,2]`), 400, "M_NOT_JSON"},
			{"wrong field type", "POST", "/_matrix/client/v3/login", []byte(`{"type": 5}`), 400, "M_BAD_JSON"},
			{"oversized body", "POST", "/_matrix/client/v3/login", []byte(`{"password":"` + strings.Repeat("x", 5000) + `"}`), 413, "M_TOO_LARGE"},
			{"unknown login type", "POST", "/_matrix/client/v3/login", map[string]any{"type": "m.login.magic"}, 400, "M_UNKNOWN"},
			{"wrong password", "POST", "/_matrix/client/v3/login", map[string]any{"type": "m.login.password", "user": "nobody", "password": "x"}, 403, "M_FORBIDDEN"},
			{"no token", "GET", "/_matrix/client/v3/account/whoami", nil, 401, "M_MISSING_TOKEN"},
			{"unknown token", "GET", "/_matrix/client/v3/account/whoami", nil, 401, "M_UNKNOWN_TOKEN"},
			{"no delegation configured", "GET", "/.well-known/matrix/server", nil, 404, "M_NOT_FOUND"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				token := ""
				if tc.name == "unknown token" {
					token = "wat_not-a-real-token"
				}
				resp := s.Do(tc.method, tc.path, tc.body, token)
				if resp.Status != tc.status || resp.Errcode() != tc.errcode {
					t.Errorf("got %d %s, want %d %s: %s", resp.Status, resp.Errcode(), tc.status, tc.errcode, resp.Body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			})
		}
		if resp := s.Do("GET", "/_matrix/client/versions", nil, ""); resp.Status != http.StatusOK {
			t.Fatalf("server stopped answering after bad requests: %d", resp.Status)
		}
	})
}

func TestCORSPreflightAndHeaders(t *testing.T) {
	s := harness.Start(t, harness.Options{Backend: harness.SQLite})
	resp := s.Do("OPTIONS", "/_matrix/client/v3/login", nil, "")
	if resp.Status/100 != 2 {
		t.Errorf("preflight status %d", resp.Status)
	}
	for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("preflight lacks %s", h)
		}
	}
	if got := s.Do("GET", "/_matrix/client/versions", nil, "").Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
}

func TestLoginSessionLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend})
		userID := s.RegisterUser("bob", "builder-pw", true)
		flows := s.Do("GET", "/_matrix/client/v3/login", nil, "").JSON(t)
		if !strings.Contains(string(mustJSON(flows)), "m.login.password") {
			t.Errorf("login flows: %v", flows)
		}
		first := s.Login("bob", "builder-pw")
		second := s.Login("BOB", "builder-pw") // localparts are case-insensitive at login
		who := s.Do("GET", "/_matrix/client/v3/account/whoami", nil, first).JSON(t)
		if who["user_id"] != userID || who["device_id"] == "" {
			t.Errorf("whoami: %v", who)
		}
		if resp := s.Do("POST", "/_matrix/client/v3/logout", map[string]any{}, first); resp.Status != 200 {
			t.Fatalf("logout: %d %s", resp.Status, resp.Body)
		}
		if code := s.Do("GET", "/_matrix/client/v3/account/whoami", nil, first).Errcode(); code != "M_UNKNOWN_TOKEN" {
			t.Errorf("token still works after logout: %s", code)
		}
		if resp := s.Do("GET", "/_matrix/client/v3/account/whoami", nil, second); resp.Status != 200 {
			t.Errorf("other session ended by logout: %d", resp.Status)
		}
		third := s.Login("bob", "builder-pw")
		if resp := s.Do("POST", "/_matrix/client/v3/logout/all", map[string]any{}, third); resp.Status != 200 {
			t.Fatalf("logout/all: %d %s", resp.Status, resp.Body)
		}
		for _, tok := range []string{second, third} {
			if code := s.Do("GET", "/_matrix/client/v3/account/whoami", nil, tok).Errcode(); code != "M_UNKNOWN_TOKEN" {
				t.Errorf("token survived logout/all: %s", code)
			}
		}
		out, err := s.Run(context.Background(), "register-user", "--user", "bob", "--password", "x")
		if err == nil || !strings.Contains(out, "already exists") {
			t.Errorf("registering an existing user: %v %s", err, out)
		}
	})
}

func TestBadConfigRefusesToStart(t *testing.T) {
	s := harness.Start(t, harness.Options{Backend: harness.SQLite})
	s.Stop()
	badFile := s.DataFile("bad.yaml")
	if err := os.WriteFile(badFile, []byte("listen:\n  clent: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"WARBLER_DATABASE__POSTGRES__MAX_OPEN_CONNS=0"}, nil, "database.postgres.max_open_conns: must be > 0"},
		{[]string{"WARBLER_REGISTRATION__ENABLED=perhaps"}, nil, "registration.enabled"},
		{[]string{"WARBLER_LISTEN__CLIENT=nowhere"}, nil, "listen.client: must be host:port"},
		{nil, []string{"--config", badFile}, "listen.clent: unknown key"},
		{nil, []string{"--config", s.DataFile("missing.yaml")}, "no such file"},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := s.RunWithEnv(ctx, tc.env, append([]string{"serve"}, tc.args...)...)
		cancel()
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%v %v: err=%v, output does not name %q:\n%s", tc.env, tc.args, err, tc.want, out)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
