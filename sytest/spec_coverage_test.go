package sytest

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// optionalEndpoints are the spec's endpoints of features a server may leave
// out, and that this test's server does not offer; each answers 404
// M_UNRECOGNIZED as the spec has such a server do.
var optionalEndpoints = map[string]string{
	"GET /_matrix/client/v1/media/preview_url":          "URL previews are off by default",
	"GET /_matrix/media/v3/preview_url":                 "URL previews are off by default",
	"GET /_matrix/client/v1/auth_metadata":              "no OAuth 2.0 authorization server",
	"GET /_matrix/client/v3/login/sso/redirect":         "no single sign-on provider",
	"GET /_matrix/client/v3/login/sso/redirect/{idpId}": "no single sign-on provider",
	"GET /.well-known/matrix/policy_server":             "this server is no policy server",
}

var pathParameter = regexp.MustCompile(`\{[^}]+\}`)

//go:generate go run ./specgen -spec ../../shared/matrix-spec-v1.19/data/api/client-server -out spec_endpoints_test.go

// specEndpoint is one method and path of the spec's client-server API.
type specEndpoint struct {
	method, path string
	needsToken   bool        // the spec's security names only access tokens
	jsonBody     bool        // the request body is a JSON document
	errors       []specError // the 4xx responses the operation declares
}

// specError is one error response an operation of the spec declares.
type specError struct {
	status   int
	errcodes []string // those the spec names for it; none when it names none
}

// TestEverySpecEndpointIsServed: /versions advertises spec versions up to
// v1.19, so every endpoint of that version's client-server API must be
// routed: called with a valid token and an empty body, none may answer 404
// M_UNRECOGNIZED or 405 (unless its feature is optional and off) or fail
// with a server error.
func TestEverySpecEndpointIsServed(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend, "WARBLER_LOGIN__GET_TOKEN__ENABLED=true")
		versions, _ := want(t, s.Do("GET", "/_matrix/client/versions", nil, ""), http.StatusOK, "")["versions"].([]any)
		if len(versions) == 0 || versions[len(versions)-1] != "v1.19" {
			t.Errorf("versions %v: the newest should be v1.19, the spec these endpoints come from", versions)
		}
		alice := newRoomUser(t, s, "alice")
		room := str(alice.ok("POST", "/createRoom", map[string]any{}), "room_id")
		values := map[string]string{
			"{userId}": url.PathEscape(alice.id), "{roomId}": url.PathEscape(room),
			"{roomIdOrAlias}": url.PathEscape(room), "{serverName}": s.Name,
		}
		checkStrangerSeesNothing(t, s, alice, room)
		var logouts []specEndpoint
		for _, ep := range clientEndpoints {
			if ep.needsToken {
				checkNeedsToken(t, s, ep, values)
			}
			if strings.HasPrefix(ep.path, "/_matrix/client/v3/logout") {
				logouts = append(logouts, ep) // last: they end the session
				continue
			}
			checkServed(t, s, alice.token, ep, values)
		}
		for _, ep := range logouts {
			checkServed(t, s, alice.token, ep, values)
		}
	})
}

// request calls ep with its path parameters filled in and an empty JSON
// object as the body of a POST or PUT.
func request(s *harness.Server, ep specEndpoint, values map[string]string, token string) harness.Response {
	path := pathParameter.ReplaceAllStringFunc(ep.path, func(p string) string {
		if v, ok := values[p]; ok {
			return v
		}
		return "x"
	})
	var body any
	if ep.method == "POST" || ep.method == "PUT" {
		body = map[string]any{}
	}
	return s.Do(ep.method, path, body, token)
}

// checkNeedsToken: an endpoint the spec guards with an access token answers
// 401 M_MISSING_TOKEN without one, before it looks at anything else.
func checkNeedsToken(t *testing.T, s *harness.Server, ep specEndpoint, values map[string]string) {
	t.Helper()
	if _, optional := optionalEndpoints[ep.method+" "+ep.path]; optional {
		return
	}
	if resp := request(s, ep, values, ""); resp.Status != http.StatusUnauthorized || resp.Errcode() != "M_MISSING_TOKEN" {
		t.Errorf("%s %s without a token: %d %s, want 401 M_MISSING_TOKEN", ep.method, ep.path, resp.Status, resp.Body)
	}
}

func checkServed(t *testing.T, s *harness.Server, token string, ep specEndpoint, values map[string]string) {
	t.Helper()
	method, template := ep.method, ep.path
	resp := request(s, ep, values, token)
	unrouted := resp.Status == http.StatusMethodNotAllowed ||
		resp.Status == http.StatusNotFound && resp.Errcode() == "M_UNRECOGNIZED"
	_, optional := optionalEndpoints[method+" "+template]
	switch {
	case unrouted && !optional:
		t.Errorf("%s %s is not served: %d %s", method, template, resp.Status, resp.Body)
	case !unrouted && optional:
		t.Errorf("%s %s is listed as optional and off, but answers %d", method, template, resp.Status)
	case resp.Status >= 500:
		t.Errorf("%s %s: server error %d %s", method, template, resp.Status, resp.Body)
	}
}

// roomDataOfAnyone are the GET endpoints with a room in their path whose
// answer is not the room's data: the room's directory visibility (public
// information) and the caller's own key backup.
var roomDataOfAnyone = map[string]bool{
	"/_matrix/client/v3/directory/list/room/{roomId}":        true,
	"/_matrix/client/v3/room_keys/keys/{roomId}":             true,
	"/_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}": true,
}

// checkStrangerSeesNothing: every GET endpoint of the spec that reads a
// room's data, called by a user who was never in alice's private room
// with the room's real IDs (a message, alice's member event), answers an
// error, never the data.
func checkStrangerSeesNothing(t *testing.T, s *harness.Server, alice roomUser, room string) {
	t.Helper()
	msg := str(alice.ok("PUT", "/rooms/"+url.PathEscape(room)+"/send/m.room.message/spec-coverage", map[string]any{"msgtype": "m.text", "body": "private"}), "event_id")
	stranger := newRoomUser(t, s, "stranger")
	values := map[string]string{
		"{userId}": url.PathEscape(alice.id), "{roomId}": url.PathEscape(room), "{roomIdOrAlias}": url.PathEscape(room),
		"{eventId}": url.PathEscape(msg), "{eventType}": "m.room.member", "{stateKey}": url.PathEscape(alice.id),
		"{type}": "m.fully_read", "{relType}": "m.annotation", "{serverName}": s.Name,
	}
	checked := 0
	for _, ep := range clientEndpoints {
		if ep.method != "GET" || !strings.Contains(ep.path, "{roomId") || roomDataOfAnyone[ep.path] {
			continue
		}
		checked++
		resp := request(s, ep, values, stranger.token)
		if resp.Status < 400 || resp.Status >= 500 {
			t.Errorf("a stranger read %s of a private room: %d %s", ep.path, resp.Status, resp.Body)
		}
	}
	if checked < 15 {
		t.Errorf("only %d room-data endpoints checked", checked)
	}
}
