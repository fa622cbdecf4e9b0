package sytest

import (
	"net/http"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

const clientV3 = "/_matrix/client/v3"

// accountServer starts a server with open registration. Rate limits are
// off unless a test sets them: most scenarios send more requests from one
// address than a real client would.
func accountServer(t *testing.T, backend harness.Backend, env ...string) *harness.Server {
	t.Helper()
	base := []string{"WARBLER_REGISTRATION__ENABLED=true", "WARBLER_RATE_LIMITS__ENABLED=false"}
	return harness.Start(t, harness.Options{Backend: backend, Env: append(base, env...)})
}

// want fails the test unless resp has the status and errcode ("" for a
// success) and returns its body.
func want(t *testing.T, resp harness.Response, status int, errcode string) map[string]any {
	t.Helper()
	if resp.Status != status || resp.Errcode() != errcode {
		t.Fatalf("got %d %q, want %d %q: %s", resp.Status, resp.Errcode(), status, errcode, resp.Body)
	}
	return resp.JSON(t)
}

// wantChallenge checks a user-interactive auth 401 and returns its session.
func wantChallenge(t *testing.T, resp harness.Response, errcode string, stages ...string) string {
	t.Helper()
	body := want(t, resp, http.StatusUnauthorized, errcode)
	flows, _ := body["flows"].([]any)
	if len(flows) == 0 {
		t.Fatalf("401 without flows: %s", resp.Body)
	}
	first, _ := flows[0].(map[string]any)["stages"].([]any)
	if len(first) != len(stages) {
		t.Fatalf("flow %v, want stages %v", first, stages)
	}
	for i, s := range stages {
		if first[i] != s {
			t.Fatalf("flow %v, want stages %v", first, stages)
		}
	}
	if _, ok := body["params"].(map[string]any); !ok {
		t.Errorf("401 without params object: %s", resp.Body)
	}
	session, _ := body["session"].(string)
	if session == "" {
		t.Fatalf("401 without session: %s", resp.Body)
	}
	return session
}

// register signs up through the m.login.dummy flow and returns the body
// of the successful answer.
func register(t *testing.T, s *harness.Server, body map[string]any) map[string]any {
	t.Helper()
	session := wantChallenge(t, s.Do("POST", clientV3+"/register", body, ""), "", "m.login.dummy")
	withAuth := map[string]any{"auth": map[string]any{"type": "m.login.dummy", "session": session}}
	for k, v := range body {
		withAuth[k] = v
	}
	return want(t, s.Do("POST", clientV3+"/register", withAuth, ""), http.StatusOK, "")
}

// passwordAuth is an m.login.password auth dict for user.
func passwordAuth(session, user, password string) map[string]any {
	return map[string]any{
		"type": "m.login.password", "session": session, "password": password,
		"identifier": map[string]any{"type": "m.id.user", "user": user},
	}
}

// withUIA sends a request that needs the password stage: first without
// auth, then with it. It returns the final answer.
func withUIA(t *testing.T, s *harness.Server, method, path string, body map[string]any, token, user, password string) harness.Response {
	t.Helper()
	session := wantChallenge(t, s.Do(method, path, body, token), "", "m.login.password")
	authed := map[string]any{"auth": passwordAuth(session, user, password)}
	for k, v := range body {
		authed[k] = v
	}
	return s.Do(method, path, authed, token)
}

func str(body map[string]any, key string) string {
	s, _ := body[key].(string)
	return s
}
