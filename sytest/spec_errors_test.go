package sytest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// The error responses the spec's OpenAPI operations declare (the errors
// column of clientEndpoints) are checked black-box by
// TestSpecErrorResponses: each declared (operation, status) pair is either
// triggered by one of its cases, or listed in errorsCoveredElsewhere with
// the test that triggers it, or in errorsNotCovered with why not. A pair in
// none of them fails the test, so a regenerated table cannot add an error
// nobody looked at; a listed pair the spec no longer declares fails too.
//
// Every operation guarded by a token also owes a 401 (the spec's "Standard
// error response" section, whether or not the operation lists it): that is
// counted as its own pair.

// errorsCoveredElsewhere: declared errors this sweep has no generic trigger
// for (they need another configuration, or many requests), each with the
// test that triggers it.
var errorsCoveredElsewhere = map[string]string{
	"POST /_matrix/media/v3/upload 413":                                       "sytest TestMediaUploadSizeLimit; media TestUploadLimits",
	"GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId} 413":       "media TestThumbnailErrors (a decompression bomb)",
	"GET /_matrix/client/v1/register/m.login.registration_token/validity 403": "sytest TestRegistrationDisabledAndGuests",
	"POST /_matrix/client/v3/register 403":                                    "sytest TestRegistrationDisabledAndGuests",
	"POST /_matrix/client/v3/rooms/{roomId}/join 429":                         "sytest TestRateLimitsOnSendAndJoin",
	"POST /_matrix/client/v3/join/{roomIdOrAlias} 429":                        "sytest TestRateLimitsOnSendAndJoin",
	"POST /_matrix/client/v3/login 429":                                       "sytest TestRateLimitsOnLoginAndRegistration",
	"POST /_matrix/client/v3/register 429":                                    "sytest TestRateLimitsOnLoginAndRegistration",
	"GET /_matrix/client/v3/register/available 429":                           "sytest TestRateLimitsOnLoginAndRegistration",
	"POST /_matrix/media/v1/create 429":                                       "sytest TestMediaCreateThenUpload; media TestCreateLimits",
	"POST /_matrix/client/v1/login/get_token 429":                             "clientapi TestGetLoginTokenRateLimited",
	"POST /_matrix/client/v3/rooms/{roomId}/report 429":                       "clientapi TestStoredWritesAreRateLimited",
	"POST /_matrix/client/v3/user/{userId}/openid/request_token 429":          "clientapi TestStoredWritesAreRateLimited",
	"POST /_matrix/client/v3/users/{userId}/report 429":                       "clientapi TestReportUser",
	"POST /_matrix/client/v3/account/password 429":                            "clientapi TestPasswordReauthIsLimitedPerAccount",
	"GET /_matrix/client/v1/media/preview_url 429":                            "media TestPreviewRateLimit",
}

// errorsNotCovered: declared errors no test triggers, and why.
var errorsNotCovered = map[string]string{
	"GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId} 413":       "the legacy unauthenticated thumbnail is off by default; its handler is the one media TestThumbnailErrors checks through the v1 path",
	"PUT /_matrix/media/v3/upload/{serverName}/{mediaId} 413":          "no test uploads an oversized body through PUT (TestMediaUploadSizeLimit covers POST /upload)",
	"POST /_matrix/media/v3/upload 403":                                "the server has no upload quota or file-type filter",
	"POST /_matrix/media/v1/create 403":                                "the server has no upload quota",
	"GET /_matrix/client/v3/account/whoami 403":                        "an application service masquerading: the server registers no application services",
	"POST /_matrix/client/v1/appservice/{appserviceId}/ping 400":       "M_URL_NOT_SET needs a registered application service; the server has none",
	"GET /_matrix/client/v3/initialSync 404":                           "the spec's text for it (\"no avatar URL for this user\") is copied from the profile API: no request means it",
	"GET /_matrix/client/v3/login 404":                                 "M_UNRECOGNIZED is for a server without the legacy login API; this server has it",
	"GET /_matrix/client/v3/presence/{userId}/status 404":              "a user who shares no room with the caller gets 403 whether or not the user exists (triggered), and one who does has presence (offline at worst)",
	"GET /_matrix/client/v3/profile/{userId} 403":                      "the server does not limit profile lookups to users sharing a room",
	"GET /_matrix/client/v3/profile/{userId}/{keyName} 403":            "the server does not limit profile lookups to users sharing a room",
	"POST /_matrix/client/v3/account/3pid/email/requestToken 403":      "the server answers every address 400 M_THREEPID_MEDIUM_NOT_SUPPORTED (triggered): it supports no medium",
	"POST /_matrix/client/v3/account/3pid/msisdn/requestToken 403":     "the server answers every number 400 M_THREEPID_MEDIUM_NOT_SUPPORTED (triggered): it supports no medium",
	"POST /_matrix/client/v3/account/password/email/requestToken 403":  "the server answers every address 400 M_THREEPID_NOT_FOUND (triggered): no account has one",
	"POST /_matrix/client/v3/account/password/msisdn/requestToken 403": "the server answers every number 400 M_THREEPID_NOT_FOUND (triggered): no account has one",
	"POST /_matrix/client/v3/createRoom 403":                           "M_INVITE_BLOCKED (invite blocking, v1.18) is not implemented",
	"POST /_matrix/client/v3/users/{userId}/report 404":                "the server uses the spec's MAY: 200 for an unknown user too, so as not to tell who exists (clientapi TestReportUser)",
	"PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId} 404":      "the PUT creates a rule that does not exist; a missing before/after rule is the 400 (triggered), as the spec's example has it. Nothing is left for 404",
	// Rate limits. The server throttles logins, registrations, joins and
	// knocks, sends, password stages, login tokens, reports and OpenID
	// tokens, pending media and URL previews; 429 is for it to choose, and
	// the operations below without another reason have no limit of their
	// own.
	"DELETE /_matrix/client/v3/profile/{userId}/{keyName} 429":                    "the server sets no rate limit on it",
	"DELETE /_matrix/client/v3/room_keys/keys 429":                                "the server sets no rate limit on it",
	"DELETE /_matrix/client/v3/room_keys/keys/{roomId} 429":                       "the server sets no rate limit on it",
	"DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} 429":           "the server sets no rate limit on it",
	"DELETE /_matrix/client/v3/room_keys/version/{version} 429":                   "the server sets no rate limit on it",
	"GET /_matrix/client/v1/media/config 429":                                     "the server sets no rate limit on it",
	"GET /_matrix/client/v1/media/download/{serverName}/{mediaId} 429":            "the server sets no rate limit on it",
	"GET /_matrix/client/v1/media/download/{serverName}/{mediaId}/{fileName} 429": "the server sets no rate limit on it",
	"GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId} 429":           "the server sets no rate limit on it",
	"GET /_matrix/client/v1/mutual_rooms 429":                                     "the server sets no rate limit on it",
	"GET /_matrix/client/v1/register/m.login.registration_token/validity 429":     "throttled by the registration limit per address TestRateLimitsOnLoginAndRegistration spends through /register; no test checks validity past it",
	"GET /_matrix/client/v1/rooms/{roomId}/hierarchy 429":                         "the server sets no rate limit on it",
	"GET /_matrix/client/v1/rooms/{roomId}/threads 429":                           "the server sets no rate limit on it",
	"GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event 429":                "the server sets no rate limit on it",
	"GET /_matrix/client/v3/account/whoami 429":                                   "the server sets no rate limit on it",
	"GET /_matrix/client/v3/capabilities 429":                                     "the server sets no rate limit on it",
	"GET /_matrix/client/v3/login 429":                                            "the server sets no rate limit on it",
	"GET /_matrix/client/v3/room_keys/keys 429":                                   "the server sets no rate limit on it",
	"GET /_matrix/client/v3/room_keys/keys/{roomId} 429":                          "the server sets no rate limit on it",
	"GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} 429":              "the server sets no rate limit on it",
	"GET /_matrix/client/v3/room_keys/version 429":                                "the server sets no rate limit on it",
	"GET /_matrix/client/v3/room_keys/version/{version} 429":                      "the server sets no rate limit on it",
	"GET /_matrix/client/v3/rooms/{roomId}/aliases 429":                           "the server sets no rate limit on it",
	"GET /_matrix/client/v3/voip/turnServer 429":                                  "the server sets no rate limit on it",
	"GET /_matrix/media/v3/config 429":                                            "the server sets no rate limit on it",
	"GET /_matrix/media/v3/download/{serverName}/{mediaId} 429":                   "the server sets no rate limit on it",
	"GET /_matrix/media/v3/download/{serverName}/{mediaId}/{fileName} 429":        "the server sets no rate limit on it",
	"GET /_matrix/media/v3/preview_url 429":                                       "the legacy path of the preview media TestPreviewRateLimit throttles through /_matrix/client/v1",
	"GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId} 429":                  "the server sets no rate limit on it",
	"POST /_matrix/client/v3/account/3pid/add 429":                                "its password stage is throttled per account as /account/password's is (clientapi TestPasswordReauthIsLimitedPerAccount); no test adds past it",
	"POST /_matrix/client/v3/account/3pid/bind 429":                               "the server sets no rate limit on it",
	"POST /_matrix/client/v3/account/deactivate 429":                              "its password stage is throttled per account as /account/password's is (clientapi TestPasswordReauthIsLimitedPerAccount); no test deactivates past it",
	"POST /_matrix/client/v3/knock/{roomIdOrAlias} 429":                           "throttled by the join limit TestRateLimitsOnSendAndJoin spends through /join; no test knocks past it",
	"POST /_matrix/client/v3/pushers/set 429":                                     "the server sets no rate limit on it",
	"POST /_matrix/client/v3/refresh 429":                                         "the server sets no rate limit on it",
	"POST /_matrix/client/v3/room_keys/version 429":                               "the server sets no rate limit on it",
	"POST /_matrix/client/v3/rooms/{roomId}/forget 429":                           "the server sets no rate limit on it",
	"POST /_matrix/client/v3/rooms/{roomId}/invite 429":                           "the server sets no rate limit on it",
	"POST /_matrix/client/v3/rooms/{roomId}/leave 429":                            "the server sets no rate limit on it",
	"POST /_matrix/client/v3/rooms/{roomId}/read_markers 429":                     "the server sets no rate limit on it",
	"POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId} 429":  "the server sets no rate limit on it",
	"POST /_matrix/client/v3/search 429":                                          "the server sets no rate limit on it",
	"POST /_matrix/client/v3/user_directory/search 429":                           "the server sets no rate limit on it",
	"POST /_matrix/media/v3/upload 429":                                           "the server sets no rate limit on it",
	"PUT /_matrix/client/v3/presence/{userId}/status 429":                         "the server sets no rate limit on it",
	"PUT /_matrix/client/v3/profile/{userId}/{keyName} 429":                       "the server sets no rate limit on it",
	"PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId} 429":                 "the server sets no rate limit on it",
	"PUT /_matrix/client/v3/room_keys/keys 429":                                   "the server sets no rate limit on it",
	"PUT /_matrix/client/v3/room_keys/keys/{roomId} 429":                          "the server sets no rate limit on it",
	"PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} 429":              "the server sets no rate limit on it",
	"PUT /_matrix/client/v3/room_keys/version/{version} 429":                      "the server sets no rate limit on it",
	"PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} 429":                   "the server sets no rate limit on it",
	"PUT /_matrix/media/v3/upload/{serverName}/{mediaId} 429":                     "the server sets no rate limit on it",
}

// errorCase is one request that must answer one of the errors an operation
// declares.
type errorCase struct {
	op     string   // "METHOD /path/{template}", as in clientEndpoints
	status int      // the declared status it triggers
	accept []string // the answers accepted: "403 M_FORBIDDEN", "401" (no errcode), "404 *" (any)
	why    string   // what the request does wrong
	call   func() harness.Response
	// bodyKey, when set, is a field the error body must have besides
	// errcode: a UIA challenge's flows, a wrong backup version's
	// current_version.
	bodyKey string
}

// sweepCase is an errorCase without a bodyKey.
func sweepCase(op string, status int, accept []string, why string, call func() harness.Response) errorCase {
	return errorCase{op: op, status: status, accept: accept, why: why, call: call}
}

// answers lists "status errcode" for each errcode (none: the bare status).
func answers(status int, errcodes ...string) []string {
	if len(errcodes) == 0 {
		return []string{fmt.Sprint(status)}
	}
	var list []string
	for _, e := range errcodes {
		list = append(list, fmt.Sprintf("%d %s", status, e))
	}
	return list
}

// answer is how a response reads in accept lists.
func answer(resp harness.Response) string {
	if e := resp.Errcode(); e != "" {
		return fmt.Sprintf("%d %s", resp.Status, e)
	}
	return fmt.Sprint(resp.Status)
}

// sweepUser is one of the sweep's users and the values its requests fill
// path templates with.
type sweepUser struct {
	roomUser
	values map[string]string
}

// fill turns op ("METHOD /path/{template}") into the path of a request:
// each {param} replaced with override's or else the user's value for it,
// and the query parameters the operation requires added.
func (u sweepUser) fill(op string, override map[string]string) string {
	_, template, _ := strings.Cut(op, " ")
	if q, ok := sweepQueries[op]; ok {
		template += "?" + q
	}
	return pathParameter.ReplaceAllStringFunc(template, func(p string) string {
		if v, ok := override[p]; ok {
			return v
		}
		if v, ok := u.values[p]; ok {
			return v
		}
		return "x"
	})
}

// call sends a request to op (method and template) as the user, with the
// template filled from the user's values and override.
func (u sweepUser) call(op string, override map[string]string, body any) harness.Response {
	u.t.Helper()
	method, _, _ := strings.Cut(op, " ")
	return u.s.Do(method, u.fill(op, override), body, u.token)
}

// sweepFixture is the one server and the handful of users every case of a
// backend shares.
type sweepFixture struct {
	s *harness.Server
	// alice created privateRoom (invite only) and publicRoom (anyone may
	// join, but inviting needs power 50); bob joined publicRoom with power
	// 0; stranger is in no room; jason, a server admin, has his own room
	// for the malformed-body cases, where a server that accepted the body
	// could change what the others' cases rely on.
	alice, bob, stranger, jason sweepUser
	privateRoom, publicRoom     string
	oldBackup                   string // a key backup version of jason's that is not current
}

func newSweepUser(t *testing.T, s *harness.Server, localpart string, admin bool) sweepUser {
	t.Helper()
	id := s.RegisterUser(localpart, localpart+"-password", admin)
	u := roomUser{t: t, s: s, id: id, token: s.Login(localpart, localpart+"-password")}
	device := str(u.ok("GET", "/account/whoami", nil), "device_id")
	return sweepUser{roomUser: u, values: map[string]string{
		"{userId}": url.PathEscape(id), "{deviceId}": url.PathEscape(device), "{serverName}": s.Name,
		"{type}": "org.example.sweep", "{eventType}": "m.room.message", "{stateKey}": "x",
		"{txnId}": "sweep", "{tag}": "u.sweep", "{kind}": "override", "{ruleId}": "sweep",
		"{receiptType}": "m.read", "{keyName}": "displayname", "{version}": "1", "{sessionId}": "s",
		"{roomAlias}": url.PathEscape("#" + localpart + "-sweep:" + s.Name), "{relType}": "m.annotation",
		"{protocol}": "sweep", "{networkId}": "sweep", "{appserviceId}": "sweep", "{mediaId}": "sweep",
		"{filterId}": "0", "{idpId}": "sweep",
	}}
}

// inRoom makes room (and a message of u's in it) the room u's requests use.
func (u sweepUser) inRoom(room string) {
	u.t.Helper()
	msg := u.send(room, "sweep-msg", "sweep")
	for k, v := range map[string]string{"{roomId}": room, "{roomIdOrAlias}": room, "{eventId}": msg} {
		u.values[k] = url.PathEscape(v)
	}
}

func newSweepFixture(t *testing.T, backend harness.Backend) *sweepFixture {
	t.Helper()
	s := accountServer(t, backend, "WARBLER_LOGIN__GET_TOKEN__ENABLED=true")
	f := &sweepFixture{s: s}
	f.alice = newSweepUser(t, s, "alice", false)
	f.bob = newSweepUser(t, s, "bob", false)
	f.stranger = newSweepUser(t, s, "stranger", false)
	f.jason = newSweepUser(t, s, "jason", true)
	f.privateRoom = f.alice.createRoom(map[string]any{"preset": "private_chat"})
	f.publicRoom = f.alice.createRoom(map[string]any{
		"preset": "public_chat", "power_level_content_override": map[string]any{"invite": 50},
	})
	f.alice.inRoom(f.privateRoom)
	f.bob.ok("POST", roomPath(f.publicRoom, "/join"), map[string]any{})
	f.bob.inRoom(f.publicRoom)
	f.jason.inRoom(f.jason.createRoom(map[string]any{}))
	// Two key backups of jason's: the first is no longer current.
	backup := map[string]any{"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": map[string]any{"public_key": "sweep"}}
	f.oldBackup = str(f.jason.ok("POST", "/room_keys/version", backup), "version")
	f.jason.values["{backup}"] = str(f.jason.ok("POST", "/room_keys/version", backup), "version")
	f.jason.values["{version}"] = f.jason.values["{backup}"]
	// The stranger's requests name alice's private room and her message in
	// it: real IDs, so only membership stands in the way.
	for _, k := range []string{"{roomId}", "{roomIdOrAlias}", "{eventId}"} {
		f.stranger.values[k] = f.alice.values[k]
	}
	return f
}

// sweepQueries are the query parameters an operation requires, so that a
// case's request lacks nothing but what the case means it to lack.
var sweepQueries = map[string]string{
	"GET /_matrix/client/v3/rooms/{roomId}/messages":             "dir=b",
	"GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event":   "ts=1&dir=b",
	"PUT /_matrix/client/v3/room_keys/keys":                      "version={backup}",
	"PUT /_matrix/client/v3/room_keys/keys/{roomId}":             "version={backup}",
	"PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}": "version={backup}",
}

// sweepBody is a request body the operation would accept from a user with
// the right to make it, so that what is wrong with a case's request is
// only what the case means to be wrong.
func sweepBody(op string, target string) any {
	method, path, _ := strings.Cut(op, " ")
	switch {
	case method != "POST" && method != "PUT":
		return nil
	case strings.HasSuffix(path, "/ban"), strings.HasSuffix(path, "/unban"),
		strings.HasSuffix(path, "/kick"), strings.HasSuffix(path, "/invite"):
		return map[string]any{"user_id": target, "reason": "sweep"}
	case strings.HasSuffix(path, "/upgrade"):
		return map[string]any{"new_version": "10"}
	case strings.Contains(path, "/state/"):
		return map[string]any{"name": "sweep"}
	case strings.Contains(path, "/report"):
		return map[string]any{"reason": "sweep"}
	}
	return map[string]any{}
}

// roomScoped: the operation acts on the room its path names (not the
// caller's own data filed under a room ID, as key backups, room account
// data and tags are, nor an application service's directory).
func roomScoped(path string) bool {
	return (strings.Contains(path, "{roomId}") || strings.Contains(path, "{roomIdOrAlias}")) &&
		!strings.Contains(path, "/user/{userId}/rooms/") && !strings.Contains(path, "/room_keys/") &&
		!strings.Contains(path, "/appservice/")
}

// powerGated are the room operations a member needs a power level for.
func powerGated(ep specEndpoint) bool {
	if !strings.Contains(ep.path, "/rooms/{roomId}/") {
		return false
	}
	if ep.method == "PUT" && strings.Contains(ep.path, "/state/") {
		return true
	}
	return slices.ContainsFunc([]string{"/ban", "/unban", "/kick", "/invite", "/upgrade"}, func(s string) bool {
		return strings.HasSuffix(ep.path, s)
	})
}

// genericCases derives, from the table alone, the cases every operation of
// a kind owes: the token errors, malformed bodies, a stranger's request on
// a private room, an unknown room, and a member without the power level.
func genericCases(f *sweepFixture) []errorCase {
	var cases []errorCase
	unknownRoom := url.PathEscape("!sweep-unknown:" + f.s.Name)
	for _, ep := range clientEndpoints {
		op := ep.method + " " + ep.path
		declared := map[int]bool{}
		for _, e := range ep.errors {
			declared[e.status] = true
		}
		if ep.needsToken {
			cases = append(cases, sweepCase(op, 401, answers(401, "M_MISSING_TOKEN"), "no access token", func() harness.Response {
				return f.s.Do(ep.method, f.alice.fill(op, nil), sweepBody(op, f.bob.id), "")
			}), sweepCase(op, 401, answers(401, "M_UNKNOWN_TOKEN"), "an access token the server never issued", func() harness.Response {
				return f.s.Do(ep.method, f.alice.fill(op, nil), sweepBody(op, f.bob.id), "sweep-wrong-token")
			}), sweepCase(op, 401, answers(401, "M_UNKNOWN_TOKEN"), "an unknown access token in the query string (accessTokenQuery)", func() harness.Response {
				path := f.alice.fill(op, nil)
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				return f.s.Do(ep.method, path+sep+"access_token=sweep-wrong-token", sweepBody(op, f.bob.id), "")
			}))
		}
		// Application services' own operations answer a user's token
		// with 403 before reading a body; they are swept below.
		if ep.jsonBody && !strings.Contains(ep.path, "appservice") {
			// The spec's common errcodes are M_NOT_JSON for a body that is
			// no JSON and M_BAD_JSON for JSON of the wrong shape, but the
			// operations that say what a body that is "not a JSON object"
			// gets (account data, /createRoom, /invite) allow either, so a
			// JSON array may get either. PUT /profile calls a value that
			// "is not valid JSON" M_BAD_JSON: there both are accepted for
			// a body that does not parse.
			notJSON := answers(400, "M_NOT_JSON")
			for _, e := range ep.errors {
				if e.status == 400 && slices.Contains(e.errcodes, "M_BAD_JSON") && !slices.Contains(e.errcodes, "M_NOT_JSON") {
					notJSON = answers(400, "M_NOT_JSON", "M_BAD_JSON")
				}
			}
			// jason is an admin: the admin operations' target must be
			// another user, as an admin may not lock himself.
			other := map[string]string{"{userId}": url.PathEscape(f.alice.id)}
			if !strings.Contains(ep.path, "/admin/") {
				other = nil
			}
			cases = append(cases, sweepCase(op, 400, notJSON, "a body that is not JSON", func() harness.Response {
				return f.jason.call(op, other, []byte(`{"sweep":`))
			}), sweepCase(op, 400, answers(400, "M_BAD_JSON", "M_NOT_JSON"), "a JSON array where an object belongs", func() harness.Response {
				return f.jason.call(op, other, []byte(`[]`))
			}))
		}
		if declared[403] && roomScoped(ep.path) {
			cases = append(cases, sweepCase(op, 403, answers(403, "M_FORBIDDEN"), "a user never in the private room", func() harness.Response {
				return f.stranger.call(op, nil, sweepBody(op, f.bob.id))
			}))
		}
		if declared[404] && roomScoped(ep.path) {
			accept := answers(404, "M_NOT_FOUND")
			if declared[403] || strings.HasSuffix(ep.path, "/timestamp_to_event") {
				// The operation declares 403 for a room the caller may not
				// see: whether an unknown room is "not found" or "not
				// yours" the spec leaves to the server. /timestamp_to_event
				// declares only 404, for "no event was found"; of a room
				// the caller cannot see it says nothing, and 403 is what
				// every other read of such a room answers. Its 404 is
				// triggered below by a time before any event.
				accept = append(accept, answers(403, "M_FORBIDDEN")...)
			}
			cases = append(cases, sweepCase(op, 404, accept, "a room the server does not know", func() harness.Response {
				return f.alice.call(op, map[string]string{"{roomId}": unknownRoom, "{roomIdOrAlias}": unknownRoom}, sweepBody(op, f.bob.id))
			}))
		}
		if declared[403] && powerGated(ep) {
			// bob, at power 0, against alice at 100, in a room where
			// inviting needs 50 and naming and upgrading need more.
			target := f.alice.id
			if strings.HasSuffix(ep.path, "/invite") {
				target = f.stranger.id
			}
			cases = append(cases, sweepCase(op, 403, answers(403, "M_FORBIDDEN"), "a member without the power level", func() harness.Response {
				return f.bob.call(op, map[string]string{"{eventType}": "m.room.name", "{stateKey}": ""}, sweepBody(op, target))
			}))
		}
	}
	return cases
}

// specificCases trigger declared errors with requests of their own.
func specificCases(f *sweepFixture) []errorCase {
	alice, bob, stranger, jason := f.alice, f.bob, f.stranger, f.jason
	s := f.s
	nobody := url.PathEscape("@sweep-nobody:" + s.Name)
	remoteUser := url.PathEscape("@sweep:elsewhere.example")
	notARoom := url.PathEscape("not-a-room-id")
	v1, v3 := "/_matrix/client/v1", "/_matrix/client/v3"
	var cases []errorCase
	add := func(op string, status int, accept []string, why string, call func() harness.Response) {
		cases = append(cases, sweepCase(op, status, accept, why, call))
	}
	// A UIA challenge is a 401 with flows and, before any stage failed, no
	// errcode.
	uiaChallenge := answers(401)
	addChallenge := func(op string, call func() harness.Response) {
		cases = append(cases, errorCase{op: op, status: 401, accept: uiaChallenge, why: "no user-interactive authentication", call: call, bodyKey: "flows"})
	}

	for _, admin := range []string{"lock", "suspend"} {
		field := map[string]string{"lock": "locked", "suspend": "suspended"}[admin]
		for _, method := range []string{"GET", "PUT"} {
			op := method + " " + v1 + "/admin/" + admin + "/{userId}"
			var body any
			if method == "PUT" {
				body = map[string]any{field: true}
			}
			add(op, 403, answers(403, "M_FORBIDDEN"), "a user who is not an admin", func() harness.Response {
				return alice.call(op, map[string]string{"{userId}": url.PathEscape(bob.id)}, body)
			})
			add(op, 400, answers(400, "M_INVALID_PARAM"), "a user of another server", func() harness.Response {
				return jason.call(op, map[string]string{"{userId}": remoteUser}, body)
			})
			add(op, 404, answers(404, "M_NOT_FOUND"), "a user who does not exist", func() harness.Response {
				return jason.call(op, map[string]string{"{userId}": nobody}, body)
			})
		}
	}
	ping := "POST " + v1 + "/appservice/{appserviceId}/ping"
	add(ping, 403, answers(403, "M_FORBIDDEN"), "a user's token, no application service's", func() harness.Response {
		return alice.call(ping, nil, map[string]any{})
	})
	add("GET "+v1+"/auth_metadata", 404, answers(404, "M_UNRECOGNIZED"), "a server without OAuth 2.0", func() harness.Response {
		return s.Do("GET", v1+"/auth_metadata", nil, "")
	})
	for _, op := range []string{
		"POST " + v1 + "/login/get_token", "POST " + v3 + "/account/deactivate", "POST " + v3 + "/account/password",
		"POST " + v3 + "/delete_devices", "DELETE " + v3 + "/devices/{deviceId}",
	} {
		body := map[string]any{}
		switch {
		case strings.HasSuffix(op, "/password"):
			body["new_password"] = "sweep-new-password"
		case strings.HasSuffix(op, "/delete_devices"):
			body["devices"] = []string{"SWEEPNONE"}
		}
		addChallenge(op, func() harness.Response {
			return alice.call(op, nil, body)
		})
	}
	addChallenge("POST "+v3+"/register", func() harness.Response {
		return s.Do("POST", v3+"/register", map[string]any{"username": "sweep-new", "password": "sweep-password"}, "")
	})
	add("POST "+v3+"/register", 400, answers(400, "M_USER_IN_USE"), "a taken username", func() harness.Response {
		return s.Do("POST", v3+"/register", map[string]any{"username": "alice", "password": "sweep-password", "auth": map[string]any{"type": "m.login.dummy"}}, "")
	})
	add("GET "+v3+"/register/available", 400, answers(400, "M_USER_IN_USE"), "a taken username", func() harness.Response {
		return s.Do("GET", v3+"/register/available?username=alice", nil, "")
	})
	add("POST "+v3+"/refresh", 401, answers(401, "M_UNKNOWN_TOKEN"), "a refresh token the server never issued", func() harness.Response {
		return s.Do("POST", v3+"/refresh", map[string]any{"refresh_token": "sweep-unknown"}, "")
	})
	add("POST "+v3+"/login", 400, answers(400, "M_UNKNOWN"), "a login type the server does not know", func() harness.Response {
		return s.Do("POST", v3+"/login", map[string]any{"type": "org.example.sweep"}, "")
	})
	add("POST "+v3+"/login", 403, answers(403, "M_FORBIDDEN"), "a wrong password", func() harness.Response {
		return s.Do("POST", v3+"/login", map[string]any{
			"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": "wrong",
		}, "")
	})
	add("GET "+v1+"/mutual_rooms", 400, answers(400, "M_INVALID_PARAM"), "the caller's own user ID", func() harness.Response {
		return alice.call("GET "+v1+"/mutual_rooms?user_id={userId}", nil, nil)
	})
	for _, op := range []string{"GET " + v1 + "/rooms/{roomId}/hierarchy", "GET " + v1 + "/rooms/{roomId}/threads"} {
		add(op, 400, answers(400, "M_INVALID_PARAM"), "a from token the server never gave", func() harness.Response {
			return alice.call(op+"?from=sweep-bogus", nil, nil)
		})
	}
	add("GET "+v1+"/rooms/{roomId}/timestamp_to_event", 404, answers(404, "M_NOT_FOUND"), "no event before the time", func() harness.Response {
		return alice.call("GET "+v1+"/rooms/{roomId}/timestamp_to_event?ts=1&dir=b", nil, nil)
	})
	add("POST "+v3+"/createRoom", 400, answers(400, "M_UNSUPPORTED_ROOM_VERSION"), "a room version the server does not support", func() harness.Response {
		return alice.call("POST "+v3+"/createRoom", nil, map[string]any{"room_version": "sweep-999"})
	})
	add("POST "+v3+"/rooms/{roomId}/upgrade", 400, answers(400, "M_UNSUPPORTED_ROOM_VERSION"), "a room version the server does not support", func() harness.Response {
		return alice.call("POST "+v3+"/rooms/{roomId}/upgrade", nil, map[string]any{"new_version": "sweep-999"})
	})
	for _, method := range []string{"GET", "PUT"} {
		op := method + " " + v3 + "/devices/{deviceId}"
		body := putBody(method, map[string]any{"display_name": "sweep"})
		add(op, 404, answers(404, "M_NOT_FOUND"), "a device the user does not have", func() harness.Response {
			return alice.call(op, map[string]string{"{deviceId}": "SWEEPNONE"}, body)
		})
	}
	alias := "PUT " + v3 + "/directory/room/{roomAlias}"
	badAlias := map[string]string{"{roomAlias}": "not-an-alias"}
	add(alias, 400, answers(400, "M_INVALID_PARAM"), "an alias without # and server", func() harness.Response {
		return alice.call(alias, badAlias, map[string]any{"room_id": f.privateRoom})
	})
	add(alias, 409, answers(409, "M_UNKNOWN"), "an alias already taken", func() harness.Response {
		alice.ok("PUT", "/directory/room/"+alice.values["{roomAlias}"], map[string]any{"room_id": f.privateRoom})
		return alice.call(alias, nil, map[string]any{"room_id": f.privateRoom})
	})
	add("GET "+v3+"/directory/room/{roomAlias}", 400, answers(400, "M_INVALID_PARAM"), "an alias without # and server", func() harness.Response {
		return alice.call("GET "+v3+"/directory/room/{roomAlias}", badAlias, nil)
	})
	for _, method := range []string{"GET", "DELETE"} {
		op := method + " " + v3 + "/directory/room/{roomAlias}"
		add(op, 404, answers(404, "M_NOT_FOUND"), "an alias nobody made", func() harness.Response {
			return bob.call(op, nil, nil)
		})
	}
	add("GET "+v3+"/rooms/{roomId}/aliases", 400, answers(400, "M_INVALID_PARAM"), "a room ID that is not one", func() harness.Response {
		return alice.call("GET "+v3+"/rooms/{roomId}/aliases", map[string]string{"{roomId}": notARoom}, nil)
	})
	add("GET "+v3+"/events", 400, answers(400, "M_INVALID_PARAM", "M_UNKNOWN"), "a from token the server never gave", func() harness.Response {
		return alice.call("GET "+v3+"/events?from=sweep-bogus&timeout=0", nil, nil)
	})
	add("GET "+v3+"/events/{eventId}", 404, answers(404, "M_NOT_FOUND"), "another room's private event", func() harness.Response {
		return stranger.call("GET "+v3+"/events/{eventId}", nil, nil)
	})
	for _, op := range []string{"GET " + v3 + "/rooms/{roomId}/event/{eventId}", "GET " + v1 + "/rooms/{roomId}/relations/{eventId}"} {
		add(op, 404, answers(404, "M_NOT_FOUND"), "an event the room does not have", func() harness.Response {
			return alice.call(op, map[string]string{"{eventId}": url.PathEscape("$sweep-unknown")}, nil)
		})
	}
	add("GET "+v3+"/rooms/{roomId}/state/{eventType}/{stateKey}", 404, answers(404, "M_NOT_FOUND"), "state the room does not have", func() harness.Response {
		return alice.call("GET "+v3+"/rooms/{roomId}/state/{eventType}/{stateKey}", map[string]string{"{eventType}": "org.example.sweep"}, nil)
	})
	add("POST "+v3+"/rooms/{roomId}/report/{eventId}", 404, answers(404, "M_NOT_FOUND"), "an event of a room the reporter is not in", func() harness.Response {
		return stranger.call("POST "+v3+"/rooms/{roomId}/report/{eventId}", nil, map[string]any{"reason": "sweep"})
	})
	add("POST "+v3+"/rooms/{roomId}/forget", 400, answers(400, "M_UNKNOWN"), "a room the user has not left", func() harness.Response {
		return alice.call("POST "+v3+"/rooms/{roomId}/forget", nil, map[string]any{})
	})
	add("POST "+v3+"/rooms/{roomId}/receipt/{receiptType}/{eventId}", 400, answers(400, "M_INVALID_PARAM"), "a thread_id that is not a string", func() harness.Response {
		return alice.call("POST "+v3+"/rooms/{roomId}/receipt/{receiptType}/{eventId}", nil, map[string]any{"thread_id": 5})
	})
	state := "PUT " + v3 + "/rooms/{roomId}/state/{eventType}/{stateKey}"
	canonical := map[string]string{"{eventType}": "m.room.canonical_alias", "{stateKey}": ""}
	add(state, 400, answers(400, "M_BAD_ALIAS"), "a canonical alias that points nowhere", func() harness.Response {
		return alice.call(state, canonical, map[string]any{"alias": "#sweep-nowhere:" + s.Name})
	})
	add(state, 400, answers(400, "M_INVALID_PARAM"), "a canonical alias that is not an alias", func() harness.Response {
		return alice.call(state, canonical, map[string]any{"alias": "not-an-alias"})
	})
	for _, op := range []string{"GET " + v3 + "/profile/{userId}", "GET " + v3 + "/profile/{userId}/{keyName}"} {
		add(op, 404, answers(404, "M_NOT_FOUND"), "a user who does not exist", func() harness.Response {
			return alice.call(op, map[string]string{"{userId}": nobody}, nil)
		})
	}
	for _, method := range []string{"PUT", "DELETE"} {
		op := method + " " + v3 + "/profile/{userId}/{keyName}"
		body := putBody(method, map[string]any{"displayname": "sweep"})
		add(op, 403, answers(403, "M_FORBIDDEN"), "another user's profile", func() harness.Response {
			return alice.call(op, map[string]string{"{userId}": url.PathEscape(bob.id)}, body)
		})
	}
	add("POST "+v3+"/pushers/set", 400, answers(400, "M_MISSING_PARAM"), "a pusher without its fields", func() harness.Response {
		return alice.call("POST "+v3+"/pushers/set", nil, map[string]any{})
	})
	for _, op := range []string{
		"GET " + v3 + "/pushrules/global/{kind}/{ruleId}", "DELETE " + v3 + "/pushrules/global/{kind}/{ruleId}",
		"GET " + v3 + "/pushrules/global/{kind}/{ruleId}/actions", "PUT " + v3 + "/pushrules/global/{kind}/{ruleId}/actions",
		"GET " + v3 + "/pushrules/global/{kind}/{ruleId}/enabled", "PUT " + v3 + "/pushrules/global/{kind}/{ruleId}/enabled",
	} {
		var body any
		switch {
		case strings.HasSuffix(op, "/actions"):
			body = map[string]any{"actions": []any{"notify"}}
		case strings.HasSuffix(op, "/enabled"):
			body = map[string]any{"enabled": false}
		}
		add(op, 404, answers(404, "M_NOT_FOUND"), "a rule the user does not have", func() harness.Response {
			return alice.call(op, nil, body)
		})
	}
	rule := "PUT " + v3 + "/pushrules/global/{kind}/{ruleId}"
	// The spec's own example of this 400 is a before= rule that does not
	// exist.
	add(rule, 400, answers(400, "M_UNKNOWN"), "a before= rule the user does not have", func() harness.Response {
		return alice.call(rule+"?before=sweep-none", nil, map[string]any{"actions": []any{"notify"}, "conditions": []any{}})
	})

	add(rule, 400, answers(400, "M_UNKNOWN", "M_INVALID_PARAM", "M_BAD_JSON"), "a rule without actions", func() harness.Response {
		return alice.call(rule, nil, map[string]any{"conditions": []any{}})
	})
	for _, op := range []string{
		"GET " + v3 + "/room_keys/version/{version}", "DELETE " + v3 + "/room_keys/version/{version}",
	} {
		add(op, 404, answers(404, "M_NOT_FOUND"), "a backup version that does not exist", func() harness.Response {
			return jason.call(op, map[string]string{"{version}": "999999"}, nil)
		})
	}
	backup := map[string]any{"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": map[string]any{"public_key": "sweep"}}
	add("PUT "+v3+"/room_keys/version/{version}", 404, answers(404, "M_NOT_FOUND"), "a backup version that does not exist", func() harness.Response {
		return jason.call("PUT "+v3+"/room_keys/version/{version}", map[string]string{"{version}": "999999"}, backup)
	})
	add("PUT "+v3+"/room_keys/version/{version}", 400, answers(400, "M_INVALID_PARAM"), "a body version other than the path's", func() harness.Response {
		return jason.call("PUT "+v3+"/room_keys/version/{version}", nil, map[string]any{
			"algorithm": backup["algorithm"], "auth_data": backup["auth_data"], "version": f.oldBackup,
		})
	})
	add("GET "+v3+"/room_keys/version", 404, answers(404, "M_NOT_FOUND"), "a user without a backup", func() harness.Response {
		return alice.call("GET "+v3+"/room_keys/version", nil, nil)
	})
	session := map[string]any{"first_message_index": 0, "forwarded_count": 0, "is_verified": false, "session_data": map[string]any{}}
	keysBody := map[string]string{
		"/room_keys/keys":                      `{"rooms":{}}`,
		"/room_keys/keys/{roomId}":             `{"sessions":{}}`,
		"/room_keys/keys/{roomId}/{sessionId}": "",
	}
	for path, raw := range keysBody {
		var body any = session
		if raw != "" {
			body = []byte(raw)
		}
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			op := method + " " + v3 + path
			if !slices.ContainsFunc(clientEndpoints, func(ep specEndpoint) bool {
				return ep.method+" "+ep.path == op && slices.ContainsFunc(ep.errors, func(e specError) bool { return e.status == 404 })
			}) {
				continue
			}
			var b any
			if method == "PUT" {
				b = body
			}
			// An upload to a version that does not exist, while another
			// one is current, is 403 M_WRONG_ROOM_KEYS_VERSION to this
			// server (the version "does not match the current backup
			// version"); the spec's 404 "backup was not found" is then
			// triggered by a user who has no backup at all.
			u := jason
			if method == "PUT" {
				u = alice
			}
			add(op, 404, answers(404, "M_NOT_FOUND"), "a backup version that does not exist", func() harness.Response {
				return u.call(op+"?version=999999", nil, b)
			})
		}
		op := "PUT " + v3 + path
		cases = append(cases, errorCase{op: op, status: 403, accept: answers(403, "M_WRONG_ROOM_KEYS_VERSION"), why: "a backup version that is not the current one", call: func() harness.Response {
			return jason.call(op+"?version="+f.oldBackup, nil, body)
		}, bodyKey: "current_version"})
	}
	for _, op := range []string{
		"GET " + v3 + "/thirdparty/protocol/{protocol}", "GET " + v3 + "/thirdparty/location/{protocol}",
		"GET " + v3 + "/thirdparty/user/{protocol}", "GET " + v3 + "/thirdparty/location?alias=%23sweep%3Aelsewhere.example",
		"GET " + v3 + "/thirdparty/user?userid=%40sweep%3Aelsewhere.example",
	} {
		declaredOp, _, _ := strings.Cut(op, "?")
		add(declaredOp, 404, answers(404, "M_NOT_FOUND"), "a protocol or lookup no bridge serves", func() harness.Response {
			return alice.call(op, nil, nil)
		})
	}
	for _, room := range []bool{false, true} {
		get, put := "GET "+v3+"/user/{userId}/account_data/{type}", "PUT "+v3+"/user/{userId}/account_data/{type}"
		if room {
			get, put = "GET "+v3+"/user/{userId}/rooms/{roomId}/account_data/{type}", "PUT "+v3+"/user/{userId}/rooms/{roomId}/account_data/{type}"
		}
		bobs := map[string]string{"{userId}": url.PathEscape(bob.id)}
		add(get, 403, answers(403, "M_FORBIDDEN"), "another user's account data", func() harness.Response {
			return alice.call(get, bobs, nil)
		})
		add(put, 403, answers(403, "M_FORBIDDEN"), "another user's account data", func() harness.Response {
			return alice.call(put, bobs, map[string]any{})
		})
		add(get, 404, answers(404, "M_NOT_FOUND"), "a type never set", func() harness.Response {
			return alice.call(get, nil, nil)
		})
		serverManaged := "m.fully_read"
		if !room {
			serverManaged = "m.push_rules"
		}
		add(put, 405, answers(405, "M_BAD_JSON"), "a type the server manages", func() harness.Response {
			return alice.call(put, map[string]string{"{type}": serverManaged}, map[string]any{})
		})
		if room {
			add(get, 400, answers(400, "M_INVALID_PARAM"), "a room ID that is not one", func() harness.Response {
				return alice.call(get, map[string]string{"{roomId}": notARoom}, nil)
			})
			add(put, 400, answers(400, "M_INVALID_PARAM"), "a room ID that is not one", func() harness.Response {
				return alice.call(put, map[string]string{"{roomId}": notARoom}, map[string]any{})
			})
		}
	}
	add("GET "+v3+"/user/{userId}/filter/{filterId}", 404, answers(404, "M_NOT_FOUND"), "a filter never made", func() harness.Response {
		return alice.call("GET "+v3+"/user/{userId}/filter/{filterId}", map[string]string{"{filterId}": "999999"}, nil)
	})
	upload := "PUT /_matrix/media/v3/upload/{serverName}/{mediaId}"
	png := []byte("\x89PNG sweep")
	add(upload, 404, answers(404, "M_NOT_FOUND"), "a media ID never created", func() harness.Response {
		return alice.call(upload, map[string]string{"{mediaId}": "sweepnone"}, png)
	})
	var created string
	mediaID := func() map[string]string {
		if created == "" {
			uri := str(want(alice.t, s.Do("POST", "/_matrix/media/v1/create", nil, alice.token), 200, ""), "content_uri")
			created = uri[strings.LastIndex(uri, "/")+1:]
		}
		return map[string]string{"{mediaId}": created}
	}
	add(upload, 403, answers(403, "M_FORBIDDEN"), "a media ID another user created", func() harness.Response {
		return bob.call(upload, mediaID(), png)
	})
	add(upload, 409, answers(409, "M_CANNOT_OVERWRITE_MEDIA"), "a media ID already uploaded", func() harness.Response {
		want(alice.t, alice.call(upload, mediaID(), png), 200, "")
		return alice.call(upload, mediaID(), png)
	})
	for _, op := range []string{"GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}", "GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId}"} {
		add(op, 400, answers(400, "M_UNKNOWN", "M_INVALID_PARAM", "M_MISSING_PARAM"), "a negative size", func() harness.Response {
			return alice.call(op+"?width=-1&height=-1", mediaID(), nil)
		})
	}
	threepid := map[string]any{"client_secret": "sweep", "email": "sweep@example.org", "send_attempt": 1}
	phone := map[string]any{"client_secret": "sweep", "country": "GB", "phone_number": "07700900001", "send_attempt": 1}
	for _, medium := range []string{"email", "msisdn"} {
		body := threepid
		if medium == "msisdn" {
			body = phone
		}
		// This server sends no email and no SMS: it refuses a new
		// account's address outright, has no address to reset a password
		// with, and supports no medium to add to an account.
		add("POST "+v3+"/register/"+medium+"/requestToken", 403, answers(403, "M_THREEPID_DENIED"), "a server that binds no addresses", func() harness.Response {
			return s.Do("POST", v3+"/register/"+medium+"/requestToken", body, "")
		})
		add("POST "+v3+"/account/password/"+medium+"/requestToken", 400, answers(400, "M_THREEPID_NOT_FOUND"), "an address no account has", func() harness.Response {
			return s.Do("POST", v3+"/account/password/"+medium+"/requestToken", body, "")
		})
		add("POST "+v3+"/account/3pid/"+medium+"/requestToken", 400, answers(400, "M_THREEPID_MEDIUM_NOT_SUPPORTED"), "a medium the server does not support", func() harness.Response {
			return s.Do("POST", v3+"/account/3pid/"+medium+"/requestToken", body, "")
		})
	}
	add("POST "+v3+"/account/3pid", 403, answers(403, "M_THREEPID_AUTH_FAILED"), "credentials no identity server gave", func() harness.Response {
		return alice.call("POST "+v3+"/account/3pid", nil, map[string]any{"three_pid_creds": map[string]any{
			"client_secret": "sweep", "sid": "sweep", "id_server": "id.example.org", "id_access_token": "sweep",
		}})
	})
	for _, path := range []string{"/.well-known/matrix/client", "/.well-known/matrix/support", "/.well-known/matrix/policy_server"} {
		// None of these is configured: the spec's 404 names no errcode.
		add("GET "+path, 404, answers(404, "*"), "a server without that information", func() harness.Response {
			return s.Do("GET", path, nil, "")
		})
	}
	add("GET "+v3+"/login/sso/redirect/{idpId}", 404, answers(404, "*"), "an identity provider the server does not know", func() harness.Response {
		return s.Do("GET", v3+"/login/sso/redirect/sweep?redirectUrl=https%3A%2F%2Fexample.org", nil, "")
	})
	presence := "GET " + v3 + "/presence/{userId}/status"
	add(presence, 403, answers(403, "M_FORBIDDEN"), "a user who shares no room with the caller", func() harness.Response {
		return stranger.call(presence, map[string]string{"{userId}": url.PathEscape(alice.id)}, nil)
	})
	// DELETE's 400 names M_INVALID_PARAM for "an invalid key"; PUT's names
	// M_KEY_TOO_LARGE for a key over 255 bytes. Which a DELETE of such a
	// key gets the spec does not say: both are accepted.
	add("DELETE "+v3+"/profile/{userId}/{keyName}", 400, answers(400, "M_INVALID_PARAM", "M_KEY_TOO_LARGE"), "a key name over the spec's 255 bytes", func() harness.Response {
		return alice.call("DELETE "+v3+"/profile/{userId}/{keyName}", map[string]string{"{keyName}": "org.example." + strings.Repeat("k", 250)}, nil)
	})
	add("POST "+v3+"/keys/device_signing/upload", 403, answers(403, "M_FORBIDDEN"), "a master key named like one of the user's devices", func() harness.Response {
		// A client picks its device ID at login: bob picks one that is
		// also a well-formed ed25519 public key.
		device := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		login := want(bob.t, s.Do("POST", v3+"/login", map[string]any{
			"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "bob"},
			"password": "bob-password", "device_id": device,
		}, ""), 200, "")
		return s.Do("POST", v3+"/keys/device_signing/upload", map[string]any{"master_key": map[string]any{
			"user_id": bob.id, "usage": []string{"master"}, "keys": map[string]string{"ed25519:" + device: device},
		}}, str(login, "access_token"))
	})
	// Redacting another's event takes the redact power level. The spec's
	// operation declares no 4xx at all, but its auth rules make this a 403
	// (not counted in the tally, as it is no declared pair).
	redact := "PUT " + v3 + "/rooms/{roomId}/redact/{eventId}/{txnId}"
	add(redact, 403, answers(403, "M_FORBIDDEN"), "a member without the power level redacting another's event", func() harness.Response {
		return bob.call(redact, map[string]string{"{eventId}": url.PathEscape(alice.send(f.publicRoom, "sweep-redact", "sweep"))}, map[string]any{})
	})
	return cases
}

// sweepPair is one error an operation declares: "METHOD /path status".
type sweepPair struct {
	op     string
	status int
}

func (p sweepPair) String() string { return fmt.Sprintf("%s %d", p.op, p.status) }

// TestSpecErrorResponses sweeps the error responses the v1.19 OpenAPI
// declares for each client-server operation, on both backends. See
// errorsCoveredElsewhere for how the sweep keeps up with the table.
func TestSpecErrorResponses(t *testing.T) {
	declared := map[sweepPair]bool{}
	for _, ep := range clientEndpoints {
		op := ep.method + " " + ep.path
		for _, e := range ep.errors {
			declared[sweepPair{op, e.status}] = true
		}
		if ep.needsToken {
			declared[sweepPair{op, 401}] = true
		}
	}
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		f := newSweepFixture(t, backend)
		triggered := map[sweepPair]bool{}
		cases := append(genericCases(f), specificCases(f)...)
		for _, c := range cases {
			pair := sweepPair{c.op, c.status}
			resp := c.call()
			triggered[pair] = true
			if !slices.Contains(c.accept, answer(resp)) && !slices.Contains(c.accept, fmt.Sprintf("%d *", resp.Status)) {
				t.Errorf("%s with %s: %d %s, want %s", c.op, c.why, resp.Status, resp.Body, strings.Join(c.accept, " or "))
			} else if c.bodyKey != "" {
				var body map[string]any
				if json.Unmarshal(resp.Body, &body) != nil || body[c.bodyKey] == nil {
					t.Errorf("%s with %s: %s has no %s", c.op, c.why, resp.Body, c.bodyKey)
				}
			}
		}
		checkSweepBookkeeping(t, declared, triggered)
	})
}

// checkSweepBookkeeping fails for each declared pair nobody accounts for,
// and for each listed pair that is stale: not declared, or both triggered
// here and listed as covered elsewhere or not at all.
func checkSweepBookkeeping(t *testing.T, declared, triggered map[sweepPair]bool) {
	t.Helper()
	var pairs []sweepPair
	for p := range declared {
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].String() < pairs[j].String() })
	counts := map[string]int{}
	for _, p := range pairs {
		_, elsewhere := errorsCoveredElsewhere[p.String()]
		_, uncovered := errorsNotCovered[p.String()]
		switch {
		case triggered[p] && (elsewhere || uncovered):
			t.Errorf("%s is triggered here: take it out of errorsCoveredElsewhere/errorsNotCovered", p)
		case triggered[p]:
			counts["triggered"]++
		case elsewhere:
			counts["covered elsewhere"]++
		case uncovered:
			counts["not covered"]++
		default:
			t.Errorf("%s is declared by the spec but neither triggered, covered elsewhere nor listed as not covered", p)
		}
	}
	for _, listed := range []map[string]string{errorsCoveredElsewhere, errorsNotCovered} {
		for key := range listed {
			if !slices.ContainsFunc(pairs, func(p sweepPair) bool { return p.String() == key }) {
				t.Errorf("%q is listed but the spec table declares no such error", key)
			}
		}
	}
	t.Logf("%d declared (operation, status) pairs: %d triggered, %d covered elsewhere, %d not covered",
		len(pairs), counts["triggered"], counts["covered elsewhere"], counts["not covered"])
}

// putBody is body for a PUT and no body for the other methods.
func putBody(method string, body any) any {
	if method == "PUT" {
		return body
	}
	return nil
}
