package sytest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/warbler-im/warbler/sytest/harness"
)

func TestRefreshTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		const lifetime = 3 * time.Second
		s := accountServer(t, backend, "WARBLER_LOGIN__ACCESS_TOKEN_LIFETIME=3s")
		reg := register(t, s, map[string]any{"username": "frank", "password": "pw", "refresh_token": true})
		if reg["expires_in_ms"] != float64(lifetime.Milliseconds()) || str(reg, "refresh_token") == "" {
			t.Fatalf("register with refresh_token: %v", reg)
		}
		refreshingLogin := func() map[string]any {
			return want(t, s.Do("POST", clientV3+"/login", map[string]any{
				"type": "m.login.password", "user": "frank", "password": "pw", "refresh_token": true,
			}, ""), 200, "")
		}
		expiring := refreshingLogin() // left alone until it expires
		expiresAt := time.Now().Add(lifetime)
		login := refreshingLogin()
		refresh := str(login, "refresh_token")

		next := want(t, s.Do("POST", clientV3+"/refresh", map[string]any{"refresh_token": refresh}, ""), 200, "")
		if str(next, "access_token") == "" || str(next, "refresh_token") == "" || next["expires_in_ms"] != float64(lifetime.Milliseconds()) {
			t.Fatalf("refresh: %v", next)
		}
		// Until the new tokens are used, the old refresh token still works
		// (a client may have lost the answer); the unused pair is replaced.
		retry := want(t, s.Do("POST", clientV3+"/refresh", map[string]any{"refresh_token": refresh}, ""), 200, "")
		want(t, s.Do("GET", clientV3+"/account/whoami", nil, str(next, "access_token")), 401, "M_UNKNOWN_TOKEN")
		who := want(t, s.Do("GET", clientV3+"/account/whoami", nil, str(retry, "access_token")), 200, "")
		if who["device_id"] != login["device_id"] {
			t.Errorf("refreshed session moved to device %v", who["device_id"])
		}
		// Now that the new access token was used, the old refresh token is gone.
		want(t, s.Do("POST", clientV3+"/refresh", map[string]any{"refresh_token": refresh}, ""), 401, "M_UNKNOWN_TOKEN")
		want(t, s.Do("POST", clientV3+"/refresh", map[string]any{"refresh_token": str(retry, "refresh_token")}, ""), 200, "")
		want(t, s.Do("POST", clientV3+"/refresh", map[string]any{"refresh_token": "wrt_unknown"}, ""), 401, "M_UNKNOWN_TOKEN")
		want(t, s.Do("POST", clientV3+"/refresh", []byte(`{"refresh_token":`), ""), 400, "M_NOT_JSON")
		// A client that does not ask for refresh tokens keeps a lasting token.
		plain := want(t, s.Do("POST", clientV3+"/login", map[string]any{"type": "m.login.password", "user": "frank", "password": "pw"}, ""), 200, "")
		if _, has := plain["expires_in_ms"]; has {
			t.Errorf("plain login expires: %v", plain)
		}

		// Waiting out the lifetime is the only way to see expiry from outside.
		time.Sleep(time.Until(expiresAt) + 100*time.Millisecond)
		expired := want(t, s.Do("GET", clientV3+"/account/whoami", nil, str(expiring, "access_token")), 401, "M_UNKNOWN_TOKEN")
		if expired["soft_logout"] != true {
			t.Errorf("expired token without soft_logout: %v", expired)
		}
		renewed := want(t, s.Do("POST", clientV3+"/refresh", map[string]any{"refresh_token": str(expiring, "refresh_token")}, ""), 200, "")
		want(t, s.Do("GET", clientV3+"/account/whoami", nil, str(renewed, "access_token")), 200, "")
	})
}

func TestRateLimitsOnLoginAndRegistration(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend, Env: []string{
			"WARBLER_REGISTRATION__ENABLED=true",
			"WARBLER_RATE_LIMITS__LOGIN__BURST=3", "WARBLER_RATE_LIMITS__LOGIN__PER_SECOND=0.01",
			"WARBLER_RATE_LIMITS__REGISTER__BURST=2", "WARBLER_RATE_LIMITS__REGISTER__PER_SECOND=0.01",
		}})
		wrong := map[string]any{"type": "m.login.password", "user": "nobody", "password": "x"}
		for range 3 {
			want(t, s.Do("POST", clientV3+"/login", wrong, ""), 403, "M_FORBIDDEN")
		}
		checkLimited(t, s.Do("POST", clientV3+"/login", wrong, ""))
		for range 2 {
			s.Do("POST", clientV3+"/register", map[string]any{}, "")
		}
		checkLimited(t, s.Do("POST", clientV3+"/register", map[string]any{}, ""))
		checkLimited(t, s.Do("GET", clientV3+"/register/available?username=x", nil, ""))
		// Other endpoints are not limited.
		want(t, s.Do("GET", clientV3+"/login", nil, ""), 200, "")
	})
}

func checkLimited(t *testing.T, resp harness.Response) {
	t.Helper()
	body := want(t, resp, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	ms, _ := body["retry_after_ms"].(float64)
	seconds, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if ms <= 0 || err != nil || seconds < 1 || float64(seconds)*1000 < ms {
		t.Errorf("retry advice: retry_after_ms %v, Retry-After %q", body["retry_after_ms"], resp.Header.Get("Retry-After"))
	}
}

func TestJWTLogin(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend, Env: []string{
			"WARBLER_LOGIN__JWT__ENABLED=true", "WARBLER_LOGIN__JWT__SECRET=jwt-test-secret",
			"WARBLER_LOGIN__JWT__ISSUER=https://idp.example", "WARBLER_LOGIN__JWT__AUDIENCE=warbler",
			"WARBLER_LOGIN__JWT__CREATE_USERS=true",
		}})
		flows := want(t, s.Do("GET", clientV3+"/login", nil, ""), 200, "")
		if !strings.Contains(string(mustJSON(flows)), "org.matrix.login.jwt") {
			t.Errorf("login flows: %v", flows)
		}
		sign := func(secret string, claims jwt.MapClaims) string {
			token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		claims := func(sub string) jwt.MapClaims {
			return jwt.MapClaims{"sub": sub, "iss": "https://idp.example", "aud": "warbler", "exp": time.Now().Add(time.Hour).Unix()}
		}
		login := func(token string) harness.Response {
			return s.Do("POST", clientV3+"/login", map[string]any{"type": "org.matrix.login.jwt", "token": token}, "")
		}
		ok := want(t, login(sign("jwt-test-secret", claims("gina"))), 200, "")
		if str(ok, "user_id") != "@gina:"+s.Name {
			t.Fatalf("JWT login: %v", ok)
		}
		want(t, s.Do("GET", clientV3+"/account/whoami", nil, str(ok, "access_token")), 200, "")
		want(t, login(sign("wrong-secret", claims("gina"))), 403, "M_FORBIDDEN")
		stale := claims("gina")
		stale["exp"] = time.Now().Add(-time.Hour).Unix()
		want(t, login(sign("jwt-test-secret", stale)), 403, "M_FORBIDDEN")
		elsewhere := claims("gina")
		elsewhere["aud"] = "another-service"
		want(t, login(sign("jwt-test-secret", elsewhere)), 403, "M_FORBIDDEN")
	})
}
