package clientapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/warbler-im/warbler/internal/ratelimit"
)

func TestRefreshableTokensExpireIntoSoftLogout(t *testing.T) {
	e := newTestEnv(t, func(a *API) { a.AccessTokenLifetime = time.Minute })
	e.createUser("alice", "pw", false)
	login := e.login("alice", "pw", map[string]any{"refresh_token": true})
	if login.body["expires_in_ms"] != float64(60_000) || login.str("refresh_token") == "" {
		t.Fatalf("login: %v", login.body)
	}
	plain := e.login("alice", "pw", nil)
	if _, has := plain.body["expires_in_ms"]; has {
		t.Fatalf("a client without refresh support got an expiring token: %v", plain.body)
	}

	e.clock.advance(time.Minute)
	expired := e.do("GET", "/_matrix/client/v3/account/whoami", nil, login.str("access_token")).
		want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	if expired.body["soft_logout"] != true {
		t.Errorf("expired token: soft_logout missing: %v", expired.body)
	}
	e.do("GET", "/_matrix/client/v3/account/whoami", nil, plain.str("access_token")).want(t, http.StatusOK, "")

	next := e.do("POST", "/_matrix/client/v3/refresh", map[string]any{"refresh_token": login.str("refresh_token")}, "").
		want(t, http.StatusOK, "")
	who := e.do("GET", "/_matrix/client/v3/account/whoami", nil, next.str("access_token")).want(t, http.StatusOK, "")
	if who.str("device_id") != login.str("device_id") {
		t.Errorf("refresh moved the session to device %s", who.str("device_id"))
	}
	// The new token was used, so the old refresh token is spent.
	e.do("POST", "/_matrix/client/v3/refresh", map[string]any{"refresh_token": login.str("refresh_token")}, "").
		want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	e.do("POST", "/_matrix/client/v3/refresh", map[string]any{}, "").want(t, http.StatusBadRequest, "M_MISSING_PARAM")
}

func TestRateLimitedLoginSaysWhenToRetry(t *testing.T) {
	e := newTestEnv(t, func(a *API) {
		a.Limits.Login = ratelimit.NewWithClock(0.5, 2, 100, func() time.Time { return time.Unix(1_760_000_000, 0) })
	})
	e.createUser("alice", "pw", false)
	body := map[string]any{"type": "m.login.password", "user": "alice", "password": "wrong"}
	for range 2 {
		e.do("POST", "/_matrix/client/v3/login", body, "").want(t, http.StatusForbidden, "M_FORBIDDEN")
	}
	resp := e.do("POST", "/_matrix/client/v3/login", body, "").want(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	if resp.body["retry_after_ms"] != float64(2000) || resp.header.Get("Retry-After") != "2" {
		t.Errorf("retry advice: %v, Retry-After %q", resp.body, resp.header.Get("Retry-After"))
	}
}

func TestPasswordReauthIsLimitedPerAccount(t *testing.T) {
	e := newTestEnv(t, func(a *API) {
		a.Limits.LoginAccount = ratelimit.NewWithClock(0.1, 3, 100, func() time.Time { return time.Unix(1_760_000_000, 0) })
	})
	e.createUser("alice", "pw", false)
	token := e.login("alice", "pw", nil).str("access_token") // takes one token
	session := e.do("POST", "/_matrix/client/v3/account/password", map[string]any{"new_password": "x"}, token).str("session")
	for range 2 {
		e.do("POST", "/_matrix/client/v3/account/password", map[string]any{
			"new_password": "x", "auth": passwordAuth(session, "alice", "guess"),
		}, token).want(t, http.StatusUnauthorized, "M_FORBIDDEN")
	}
	e.do("POST", "/_matrix/client/v3/account/password", map[string]any{
		"new_password": "x", "auth": passwordAuth(session, "alice", "pw"),
	}, token).want(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
}

func signedJWT(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTLogin(t *testing.T) {
	verifier, err := NewJWTVerifier(JWTOptions{Algorithm: "HS256", Secret: "k", Issuer: "idp", CreateUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, func(a *API) { a.JWT = verifier })
	now := e.clock.now()
	exp := now.Add(time.Hour).Unix()
	login := func(token string) testResponse {
		return e.do("POST", "/_matrix/client/v3/login", map[string]any{"type": loginTypeJWT, "token": token}, "")
	}
	ok := login(signedJWT(t, "k", jwt.MapClaims{"sub": "carol", "iss": "idp", "exp": exp})).want(t, http.StatusOK, "")
	if ok.str("user_id") != "@carol:"+testServer {
		t.Fatalf("JWT login: %v", ok.body)
	}
	profile, _ := e.db.GetProfile(t.Context(), "@carol:"+testServer)
	if profile.DisplayName != "carol" {
		t.Errorf("created user's display name %q", profile.DisplayName)
	}
	refused := map[string]string{
		"wrong key":     signedJWT(t, "other", jwt.MapClaims{"sub": "carol", "iss": "idp"}),
		"wrong issuer":  signedJWT(t, "k", jwt.MapClaims{"sub": "carol", "iss": "elsewhere"}),
		"expired":       signedJWT(t, "k", jwt.MapClaims{"sub": "carol", "iss": "idp", "exp": now.Add(-time.Minute).Unix()}),
		"not yet valid": signedJWT(t, "k", jwt.MapClaims{"sub": "carol", "iss": "idp", "nbf": now.Add(time.Minute).Unix()}),
		"has audience":  signedJWT(t, "k", jwt.MapClaims{"sub": "carol", "iss": "idp", "aud": "other-service"}),
		"no subject":    signedJWT(t, "k", jwt.MapClaims{"iss": "idp"}),
		"bad localpart": signedJWT(t, "k", jwt.MapClaims{"sub": "carol smith", "iss": "idp"}),
		"unsigned":      "eyJhbGciOiJub25lIn0." + "eyJzdWIiOiJjYXJvbCIsImlzcyI6ImlkcCJ9.",
		"not a JWT":     "garbage",
		"missing token": "",
		"other alg (HS512)": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "carol", "iss": "idp"}).SignedString([]byte("k"))
			return s
		}(),
	}
	for name, token := range refused {
		t.Run(name, func(t *testing.T) { login(token).want(t, http.StatusForbidden, "M_FORBIDDEN") })
	}
	flows := e.do("GET", "/_matrix/client/v3/login", nil, "")
	if got := len(flows.body["flows"].([]any)); got != 2 {
		t.Errorf("login flows with JWT on: %v", flows.body)
	}
}

func TestJWTLoginWithoutAutoCreateRefusesUnknownUsers(t *testing.T) {
	verifier, _ := NewJWTVerifier(JWTOptions{Algorithm: "HS256", Secret: "k", Audience: "warbler"})
	e := newTestEnv(t, func(a *API) { a.JWT = verifier })
	e.createUser("dave", "pw", false)
	token := func(sub string) string {
		return signedJWT(t, "k", jwt.MapClaims{"sub": sub, "aud": "warbler"})
	}
	e.do("POST", "/_matrix/client/v3/login", map[string]any{"type": loginTypeJWT, "token": token("dave")}, "").want(t, http.StatusOK, "")
	e.do("POST", "/_matrix/client/v3/login", map[string]any{"type": loginTypeJWT, "token": token("nobody")}, "").
		want(t, http.StatusForbidden, "M_FORBIDDEN")
}

func TestDeviceLastSeenIsThrottled(t *testing.T) {
	e := newTestEnv(t, nil)
	user := e.createUser("alice", "pw", false)
	login := e.login("alice", "pw", nil)
	token, device := login.str("access_token"), login.str("device_id")
	seen := func() int64 {
		d, err := e.db.GetDevice(t.Context(), user, device)
		if err != nil {
			t.Fatal(err)
		}
		return d.LastSeenTS
	}
	start := seen()
	e.clock.advance(10 * time.Second)
	e.do("GET", "/_matrix/client/v3/account/whoami", nil, token) // first use: written
	first := seen()
	if first != start+10_000 {
		t.Fatalf("last_seen_ts %d, want %d", first, start+10_000)
	}
	e.clock.advance(10 * time.Second)
	e.do("GET", "/_matrix/client/v3/account/whoami", nil, token) // within the interval: skipped
	if got := seen(); got != first {
		t.Errorf("last_seen_ts rewritten after 10s: %d", got)
	}
	e.clock.advance(seenInterval)
	e.do("GET", "/_matrix/client/v3/account/whoami", nil, token)
	if got := seen(); got != first+10_000+seenInterval.Milliseconds() {
		t.Errorf("last_seen_ts not refreshed after the interval: %s", strconv.FormatInt(got, 10))
	}
}
