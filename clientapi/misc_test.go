package clientapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestThreePIDsListIsEmpty(t *testing.T) {
	e := newSyncEnv(t)
	resp := e.do("GET", "/_matrix/client/v3/account/3pid", nil, e.aliceToken).want(t, http.StatusOK, "")
	if list, ok := resp.body["threepids"].([]any); !ok || len(list) != 0 {
		t.Errorf("threepids: %v", resp.body)
	}
	e.do("GET", "/_matrix/client/v3/account/3pid", nil, "").want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
}

func TestTurnServer(t *testing.T) {
	tests := []struct {
		name      string
		turn      TURNOptions
		wantCreds bool
	}{
		{"not configured", TURNOptions{}, false},
		{"no secret", TURNOptions{URIs: []string{"turn:turn.example.org"}}, false},
		{"configured", TURNOptions{URIs: []string{"turn:turn.example.org"}, SharedSecret: "s3cret", UserLifetime: 2 * time.Hour}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, func(a *API) { a.TURN = tc.turn })
			e.createUser("alice", "pw-alice-1", false)
			token := e.login("alice", "pw-alice-1", nil).str("access_token")
			resp := e.do("GET", "/_matrix/client/v3/voip/turnServer", nil, token).want(t, http.StatusOK, "")
			if !tc.wantCreds {
				if len(resp.body) != 0 {
					t.Errorf("want an empty object, got %v", resp.body)
				}
				return
			}
			user := resp.str("username")
			expiry := strconv.FormatInt(e.clock.now().Add(2*time.Hour).Unix(), 10)
			if user != expiry+":@alice:example.org" {
				t.Errorf("username %q", user)
			}
			mac := hmac.New(sha1.New, []byte("s3cret"))
			mac.Write([]byte(user))
			if resp.str("password") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
				t.Errorf("password does not verify")
			}
			if resp.body["ttl"] != float64(7200) {
				t.Errorf("ttl %v", resp.body["ttl"])
			}
		})
	}
}

func TestOpenIDTokens(t *testing.T) {
	e := newSyncEnv(t)
	path := "/_matrix/client/v3/user/" + url.PathEscape(e.alice) + "/openid/request_token"
	e.do("POST", "/_matrix/client/v3/user/"+url.PathEscape(e.bob)+"/openid/request_token", map[string]any{}, e.aliceToken).
		want(t, http.StatusForbidden, "M_FORBIDDEN")
	resp := e.do("POST", path, map[string]any{}, e.aliceToken).want(t, http.StatusOK, "")
	token := resp.str("access_token")
	if token == "" || resp.str("token_type") != "Bearer" || resp.str("matrix_server_name") != testServer || resp.body["expires_in"] != float64(3600) {
		t.Fatalf("response %v", resp.body)
	}
	if user, err := e.api.OpenIDUserInfo(t.Context(), token); err != nil || user != e.alice {
		t.Errorf("userinfo: %q, %v", user, err)
	}
	for _, bad := range []string{"", "oid_unknown", "Bearer " + token} {
		if _, err := e.api.OpenIDUserInfo(t.Context(), bad); err == nil || !strings.Contains(err.Error(), "M_UNKNOWN_TOKEN") {
			t.Errorf("token %q: %v, want M_UNKNOWN_TOKEN", bad, err)
		}
	}
	e.clock.advance(time.Hour)
	if _, err := e.api.OpenIDUserInfo(t.Context(), token); err == nil {
		t.Error("an expired token is still accepted")
	}
}

func TestContentReports(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	msg := e.message(room, e.alice, "offensive")
	other := e.createRoom(e.bob)
	otherMsg := e.message(other, e.bob, "elsewhere")
	reportEvent := func(roomID, eventID string) string {
		return "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/report/" + url.PathEscape(eventID)
	}
	reportRoom := func(roomID string) string { return "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/report" }
	tests := []struct {
		name, path, token string
		body              any
		status            int
		errcode           string
	}{
		{"event", reportEvent(room, msg), e.aliceToken, map[string]any{"reason": "rude", "score": -50}, 200, ""},
		{"event without reason", reportEvent(room, msg), e.aliceToken, map[string]any{}, 200, ""},
		{"event, not a member", reportEvent(room, msg), e.bobToken, map[string]any{"reason": "x"}, 404, "M_NOT_FOUND"},
		{"event of another room", reportEvent(room, otherMsg), e.aliceToken, map[string]any{"reason": "x"}, 404, "M_NOT_FOUND"},
		{"unknown event", reportEvent(room, "$nope"), e.aliceToken, map[string]any{"reason": "x"}, 404, "M_NOT_FOUND"},
		{"unknown room", reportEvent("!nope:example.org", msg), e.aliceToken, map[string]any{"reason": "x"}, 404, "M_NOT_FOUND"},
		{"bad reason", reportEvent(room, msg), e.aliceToken, map[string]any{"reason": 5}, 400, "M_BAD_JSON"},
		{"room, not a member", reportRoom(room), e.bobToken, map[string]any{"reason": ""}, 200, ""},
		{"room without reason", reportRoom(room), e.bobToken, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"unknown room report", reportRoom("!nope:example.org"), e.bobToken, map[string]any{"reason": "x"}, 404, "M_NOT_FOUND"},
		{"no token", reportRoom(room), "", map[string]any{"reason": "x"}, 401, "M_MISSING_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", tc.path, tc.body, tc.token).want(t, tc.status, tc.errcode)
		})
	}
	reports, err := e.db.ContentReports(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 3 {
		t.Fatalf("%d reports stored, want 3: %+v", len(reports), reports)
	}
	first := reports[2]
	if first.EventID != msg || first.UserID != e.alice || first.Reason != "rude" || first.Score == nil || *first.Score != -50 {
		t.Errorf("first report %+v", first)
	}
	if reports[0].EventID != "" || reports[0].UserID != e.bob {
		t.Errorf("room report %+v", reports[0])
	}
}

// TestStoredWritesAreRateLimited: reports and OpenID tokens share a
// per-user budget; once spent, 429 M_LIMIT_EXCEEDED and nothing stored.
func TestStoredWritesAreRateLimited(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	report := "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/report"
	openID := "/_matrix/client/v3/user/" + url.PathEscape(e.alice) + "/openid/request_token"
	for i := range storedWritesBurst {
		path := report
		if i%2 == 1 {
			path = openID
		}
		e.do("POST", path, map[string]any{"reason": "x"}, e.aliceToken).want(t, http.StatusOK, "")
	}
	e.do("POST", report, map[string]any{"reason": "x"}, e.aliceToken).want(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	e.do("POST", openID, map[string]any{}, e.aliceToken).want(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	// Another user's budget is untouched.
	e.do("POST", report, map[string]any{"reason": "x"}, e.bobToken).want(t, http.StatusOK, "")
	if reports, _ := e.db.ContentReports(t.Context(), 100); len(reports) != storedWritesBurst/2+1 {
		t.Errorf("%d reports stored, want %d", len(reports), storedWritesBurst/2+1)
	}
}
