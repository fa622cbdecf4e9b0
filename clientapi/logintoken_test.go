package clientapi

import (
	"net/http"
	"testing"
	"time"
)

func loginFlowTypes(t *testing.T, e *testEnv) map[string]map[string]any {
	t.Helper()
	resp := e.do("GET", v3+"/login", nil, "").want(t, 200, "")
	out := map[string]map[string]any{}
	flows, _ := resp.body["flows"].([]any)
	for _, f := range flows {
		flow, _ := f.(map[string]any)
		typ, _ := flow["type"].(string)
		out[typ] = flow
	}
	return out
}

func getLoginTokenCapability(t *testing.T, e *testEnv, token string) any {
	t.Helper()
	resp := e.do("GET", v3+"/capabilities", nil, token).want(t, 200, "")
	caps, _ := resp.body["capabilities"].(map[string]any)
	c, _ := caps["m.get_login_token"].(map[string]any)
	return c["enabled"]
}

func TestGetLoginTokenDisabled(t *testing.T) {
	e := newTestEnv(t, nil)
	e.createUser("alice", "pw-alice-1", false)
	token := e.login("alice", "pw-alice-1", nil).str("access_token")
	e.do("POST", v1+"/login/get_token", map[string]any{}, token).want(t, http.StatusNotFound, "M_UNRECOGNIZED")
	if _, ok := loginFlowTypes(t, e)[loginTypeToken]; ok {
		t.Error("m.login.token offered while off")
	}
	if got := getLoginTokenCapability(t, e, token); got != false {
		t.Errorf("capability %v", got)
	}
	e.do("POST", v3+"/login", map[string]any{"type": "m.login.token", "token": "wlt_x"}, "").want(t, 400, "M_UNKNOWN")
}

// getLoginToken runs the endpoint's two UIA steps and returns the token.
func getLoginToken(t *testing.T, e *testEnv, token string) testResponse {
	t.Helper()
	challenge := e.do("POST", v1+"/login/get_token", map[string]any{}, token).want(t, http.StatusUnauthorized, "")
	return e.do("POST", v1+"/login/get_token", map[string]any{"auth": passwordAuth(challenge.str("session"), "alice", "pw-alice-1")}, token)
}

func TestGetLoginToken(t *testing.T) {
	e := newTestEnv(t, func(a *API) { a.LoginTokens = LoginTokenOptions{Enabled: true} })
	alice := e.createUser("alice", "pw-alice-1", false)
	token := e.login("alice", "pw-alice-1", nil).str("access_token")
	if flow := loginFlowTypes(t, e)[loginTypeToken]; flow == nil || flow["get_login_token"] != true {
		t.Errorf("m.login.token flow: %v", flow)
	}
	if got := getLoginTokenCapability(t, e, token); got != true {
		t.Errorf("capability %v", got)
	}
	e.do("POST", v1+"/login/get_token", map[string]any{}, "").want(t, 401, "M_MISSING_TOKEN")

	challenge := e.do("POST", v1+"/login/get_token", map[string]any{}, token).want(t, http.StatusUnauthorized, "")
	auth := map[string]any{"auth": passwordAuth(challenge.str("session"), "alice", "pw-alice-1")}
	resp := e.do("POST", v1+"/login/get_token", auth, token).want(t, 200, "")
	loginToken := resp.str("login_token")
	// The password proves consent to one token: its session is spent.
	if again := e.do("POST", v1+"/login/get_token", auth, token); again.status == 200 {
		t.Fatalf("a spent UIA session made another token: %v", again.body)
	}
	if loginToken == "" || resp.body["expires_in_ms"] != float64(120000) {
		t.Fatalf("response %v", resp.body)
	}
	tokenLogin := map[string]any{"type": "m.login.token", "token": loginToken}
	got := e.do("POST", v3+"/login", tokenLogin, "").want(t, 200, "")
	if got.str("user_id") != alice || got.str("access_token") == "" {
		t.Fatalf("login %v", got.body)
	}
	e.do("GET", v3+"/account/whoami", nil, got.str("access_token")).want(t, 200, "")
	// Single use.
	e.do("POST", v3+"/login", tokenLogin, "").want(t, 403, "M_FORBIDDEN")

	// Expired after its lifetime.
	second := getLoginToken(t, e, token).want(t, 200, "").str("login_token")
	e.clock.advance(2*time.Minute + time.Millisecond)
	e.do("POST", v3+"/login", map[string]any{"type": "m.login.token", "token": second}, "").want(t, 403, "M_FORBIDDEN")

	// Bad requests.
	e.do("POST", v3+"/login", map[string]any{"type": "m.login.token"}, "").want(t, 400, "M_MISSING_PARAM")
	e.do("POST", v3+"/login", map[string]any{"type": "m.login.token", "token": "wlt_unknown"}, "").want(t, 403, "M_FORBIDDEN")
	challenge = e.do("POST", v1+"/login/get_token", map[string]any{}, token).want(t, 401, "")
	e.do("POST", v1+"/login/get_token", map[string]any{"auth": passwordAuth(challenge.str("session"), "alice", "wrong")}, token).
		want(t, 401, "M_FORBIDDEN")
}

func TestGetLoginTokenRateLimited(t *testing.T) {
	e := newTestEnv(t, func(a *API) { a.LoginTokens = LoginTokenOptions{Enabled: true, Lifetime: time.Minute} })
	e.createUser("alice", "pw-alice-1", false)
	token := e.login("alice", "pw-alice-1", nil).str("access_token")
	for range loginTokensBurst {
		if resp := getLoginToken(t, e, token).want(t, 200, ""); resp.body["expires_in_ms"] != float64(60000) {
			t.Fatalf("expires_in_ms %v", resp.body["expires_in_ms"])
		}
	}
	getLoginToken(t, e, token).want(t, 429, "M_LIMIT_EXCEEDED")
	e.clock.advance(time.Minute)
	getLoginToken(t, e, token).want(t, 200, "")
}
