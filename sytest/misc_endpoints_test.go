package sytest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestEarlyClientEndpoints: what a client calls right after login, on a
// server with TURN configured: an empty 3PID list, TURN credentials that
// verify with the shared secret, an OpenID token another party can check
// at the federation userinfo endpoint, and content reports.
func TestEarlyClientEndpoints(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend,
			"WARBLER_VOIP__TURN_URIS=turn:turn.example.org:3478?transport=udp",
			"WARBLER_VOIP__TURN_SHARED_SECRET=turn-secret")
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")

		if list, ok := alice.ok("GET", "/account/3pid", nil)["threepids"].([]any); !ok || len(list) != 0 {
			t.Errorf("3pid list is not empty")
		}
		checkTurnCredentials(t, alice)
		checkOpenID(t, s, alice, bob)
		checkReports(t, alice, bob)
	})
}

func checkTurnCredentials(t *testing.T, u roomUser) {
	t.Helper()
	turn := u.ok("GET", "/voip/turnServer", nil)
	user := str(turn, "username")
	mac := hmac.New(sha1.New, []byte("turn-secret"))
	mac.Write([]byte(user))
	uris, _ := turn["uris"].([]any)
	if !strings.HasSuffix(user, ":"+u.id) || str(turn, "password") != base64.StdEncoding.EncodeToString(mac.Sum(nil)) ||
		len(uris) != 1 || turn["ttl"] != float64(3600) {
		t.Errorf("turn credentials %v", turn)
	}
}

func checkOpenID(t *testing.T, s *harness.Server, alice, bob roomUser) {
	t.Helper()
	bob.wantErr(bob.do("POST", "/user/"+url.PathEscape(alice.id)+"/openid/request_token", map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
	token := str(alice.ok("POST", "/user/"+url.PathEscape(alice.id)+"/openid/request_token", map[string]any{}), "access_token")
	const userinfo = "/_matrix/federation/v1/openid/userinfo?access_token="
	info := want(t, s.Do("GET", userinfo+url.QueryEscape(token), nil, ""), http.StatusOK, "")
	if str(info, "sub") != alice.id {
		t.Errorf("userinfo %v", info)
	}
	want(t, s.Do("GET", userinfo+"oid_wrong", nil, ""), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	// An access token is not an OpenID token.
	want(t, s.Do("GET", userinfo+url.QueryEscape(alice.token), nil, ""), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
}

func checkReports(t *testing.T, alice, bob roomUser) {
	t.Helper()
	roomID := alice.createRoom(map[string]any{})
	eventID := alice.send(roomID, "r1", "report me")
	alice.ok("POST", roomPath(roomID, "/report/"+url.PathEscape(eventID)), map[string]any{"reason": "spam"})
	bob.wantErr(bob.do("POST", roomPath(roomID, "/report/"+url.PathEscape(eventID)), map[string]any{"reason": "x"}), http.StatusNotFound, "M_NOT_FOUND")
	alice.wantErr(alice.do("POST", roomPath(roomID, "/report/$unknown"), map[string]any{"reason": "x"}), http.StatusNotFound, "M_NOT_FOUND")
	bob.ok("POST", roomPath(roomID, "/report"), map[string]any{"reason": "bad room"})
	bob.wantErr(bob.do("POST", roomPath("!nope:localhost", "/report"), map[string]any{"reason": "x"}), http.StatusNotFound, "M_NOT_FOUND")
	bob.wantErr(bob.do("POST", roomPath(roomID, "/report"), map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
}
