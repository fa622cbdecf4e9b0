package federation

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"testing"

	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
)

func escPath(s string) string { return url.PathEscape(s) }

// TestServeEventAccess covers who may fetch an event with /event.
func TestServeEventAccess(t *testing.T) {
	e := newReadEnv(t, nil)
	e.remoteJoin("@bob:" + remoteServer)
	msg := e.message("hello")
	// eve never joined: the auth rules reject her message, which is
	// stored but no part of the room to serve.
	rejected := e.remoteEvent("@eve:"+remoteServer, "m.room.message", nil, map[string]string{"body": "x"})
	if rejected.Rejected == "" {
		t.Fatal("the message of a non-member was not rejected")
	}
	cases := []struct {
		name, origin, eventID string
		status                int
		errcode               string
	}{
		{"joined server", remoteServer, msg, 200, ""},
		{"server not in the room", strangerName, msg, 403, "M_FORBIDDEN"},
		{"unknown event", remoteServer, "$nope", 404, "M_NOT_FOUND"},
		{"rejected event", remoteServer, rejected.EventID, 404, "M_NOT_FOUND"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := e.get(c.origin, "/v1/event/"+escPath(c.eventID))
			if resp.status != c.status || resp.errcode() != c.errcode {
				t.Fatalf("status %d %s, want %d %s: %s", resp.status, resp.errcode(), c.status, c.errcode, resp.raw)
			}
			if c.status == 200 {
				if got := pduBodies(t, resp.body["pdus"]); !slices.Equal(got, []string{"hello"}) {
					t.Fatalf("pdus bodies %v", got)
				}
				if resp.body["origin"] != readServer {
					t.Fatalf("origin %v", resp.body["origin"])
				}
			}
		})
	}
	if in := e.decider.last(); in.Action != policy.ActionServeRoomData || in.Server != remoteServer ||
		in.RoomID != e.roomID || in.Route != "/_matrix/federation/v1/event/{eventId}" || in.EventType != "m.room.message" {
		t.Fatalf("policy input %+v", in)
	}
}

// TestServerACLDeniesEveryRoomRead: a server the room's ACL denies gets
// 403 from every room-scoped read, even with a joined user.
func TestServerACLDeniesEveryRoomRead(t *testing.T) {
	e := newReadEnv(t, nil)
	join := e.remoteJoin("@bob:" + remoteServer)
	msg := e.message("hello")
	if got := e.get(remoteServer, "/v1/event/"+escPath(msg)); got.status != 200 {
		t.Fatalf("before the ACL: %d %s", got.status, got.raw)
	}
	e.state("m.room.server_acl", map[string]any{"allow": []string{"*"}, "deny": []string{"b.example"}})
	room := escPath(e.roomID)
	paths := []struct{ method, path string }{
		{"GET", "/v1/event/" + escPath(msg)},
		{"GET", "/v1/state/" + room + "?event_id=" + url.QueryEscape(msg)},
		{"GET", "/v1/state_ids/" + room + "?event_id=" + url.QueryEscape(msg)},
		{"GET", "/v1/event_auth/" + room + "/" + escPath(join)},
		{"GET", "/v1/backfill/" + room + "?limit=5&v=" + url.QueryEscape(msg)},
		{"POST", "/v1/get_missing_events/" + room},
	}
	for _, p := range paths {
		resp := e.do(remoteServer, p.method, p.path, map[string]any{"earliest_events": []string{}, "latest_events": []string{msg}})
		if resp.status != 403 || resp.errcode() != "M_FORBIDDEN" {
			t.Errorf("%s %s: %d %s, want 403 M_FORBIDDEN", p.method, p.path, resp.status, resp.raw)
		}
	}
}

// TestHistoryVisibilityOverFederation: with joined history, a server
// whose users joined later may not fetch earlier events, and backfill
// serves them redacted so the DAG still links.
func TestHistoryVisibilityOverFederation(t *testing.T) {
	e := newReadEnv(t, nil)
	e.state("m.room.history_visibility", map[string]string{"history_visibility": "joined"})
	before := e.message("before")
	e.remoteJoin("@bob:" + remoteServer)
	after := e.message("after")

	if got := e.get(remoteServer, "/v1/event/"+escPath(before)); got.status != 403 || got.errcode() != "M_FORBIDDEN" {
		t.Fatalf("/event before the join: %d %s", got.status, got.raw)
	}
	if got := e.get(remoteServer, "/v1/event/"+escPath(after)); got.status != 200 {
		t.Fatalf("/event after the join: %d %s", got.status, got.raw)
	}
	resp := e.get(remoteServer, "/v1/backfill/"+escPath(e.roomID)+"?limit=3&v="+url.QueryEscape(after))
	if resp.status != 200 {
		t.Fatalf("backfill: %d %s", resp.status, resp.raw)
	}
	// after, the join, then "before" with its content redacted away.
	if got := pduBodies(t, resp.body["pdus"]); !slices.Equal(got, []string{"after", "", ""}) {
		t.Fatalf("backfill bodies %v", got)
	}
	if got := e.get(remoteServer, "/v1/state_ids/"+escPath(e.roomID)+"?event_id="+url.QueryEscape(before)); got.status != 403 {
		t.Fatalf("/state_ids at a hidden event: %d %s", got.status, got.raw)
	}
}

func TestServeStateAndStateIDs(t *testing.T) {
	e := newReadEnv(t, nil)
	join := e.remoteJoin("@bob:" + remoteServer)
	msg := e.message("hi")
	room := escPath(e.roomID)
	ids := e.get(remoteServer, "/v1/state_ids/"+room+"?event_id="+url.QueryEscape(msg))
	if ids.status != 200 {
		t.Fatalf("state_ids: %d %s", ids.status, ids.raw)
	}
	pduIDs, _ := ids.body["pdu_ids"].([]any)
	if !slices.Contains(pduIDs, any(join)) || len(ids.body["auth_chain_ids"].([]any)) == 0 {
		t.Fatalf("state_ids body %s", ids.raw)
	}
	full := e.get(remoteServer, "/v1/state/"+room+"?event_id="+url.QueryEscape(msg))
	if full.status != 200 || len(full.body["pdus"].([]any)) != len(pduIDs) || len(full.body["auth_chain"].([]any)) == 0 {
		t.Fatalf("state: %d %s", full.status, full.raw)
	}
	cases := []struct {
		name, origin, query string
		status              int
		errcode             string
	}{
		{"no event_id", remoteServer, "", 400, "M_MISSING_PARAM"},
		{"unknown event", remoteServer, "?event_id=%24nope", 404, "M_NOT_FOUND"},
		{"not in room", strangerName, "?event_id=" + url.QueryEscape(msg), 403, "M_FORBIDDEN"},
	}
	for _, c := range cases {
		for _, ep := range []string{"/v1/state/", "/v1/state_ids/"} {
			resp := e.get(c.origin, ep+room+c.query)
			if resp.status != c.status || resp.errcode() != c.errcode {
				t.Errorf("%s %s: %d %s, want %d %s", c.name, ep, resp.status, resp.raw, c.status, c.errcode)
			}
		}
	}
	if got := e.get(remoteServer, "/v1/state_ids/"+escPath("!unknown:a.example")+"?event_id="+url.QueryEscape(msg)); got.status != 404 {
		t.Errorf("unknown room: %d %s", got.status, got.raw)
	}
}

func TestServeEventAuth(t *testing.T) {
	e := newReadEnv(t, nil)
	join := e.remoteJoin("@bob:" + remoteServer)
	create, _ := e.rs.CurrentStateEvent(t.Context(), e.roomID, "m.room.create", "")
	room := escPath(e.roomID)
	resp := e.get(remoteServer, "/v1/event_auth/"+room+"/"+escPath(join))
	if resp.status != 200 {
		t.Fatalf("event_auth: %d %s", resp.status, resp.raw)
	}
	chain, _ := resp.body["auth_chain"].([]any)
	var types []string
	for _, ev := range chain {
		types = append(types, ev.(map[string]any)["type"].(string))
	}
	if !slices.Contains(types, "m.room.create") || !slices.Contains(types, "m.room.power_levels") || len(create.EventID()) == 0 {
		t.Fatalf("auth chain types %v", types)
	}
	if got := e.get(remoteServer, "/v1/event_auth/"+room+"/"+escPath("$nope")); got.status != 404 || got.errcode() != "M_NOT_FOUND" {
		t.Fatalf("unknown event: %d %s", got.status, got.raw)
	}
	if got := e.get(strangerName, "/v1/event_auth/"+room+"/"+escPath(join)); got.status != 403 {
		t.Fatalf("not in room: %d %s", got.status, got.raw)
	}
}

func TestServeBackfillBounds(t *testing.T) {
	e := newReadEnv(t, nil)
	e.remoteJoin("@bob:" + remoteServer)
	var last string
	for _, b := range []string{"m1", "m2", "m3", "m4"} {
		last = e.message(b)
	}
	room := escPath(e.roomID)
	v := "&v=" + url.QueryEscape(last)
	resp := e.get(remoteServer, "/v1/backfill/"+room+"?limit=2"+v)
	if got := pduBodies(t, resp.body["pdus"]); resp.status != 200 || !slices.Equal(got, []string{"m4", "m3"}) {
		t.Fatalf("backfill limit 2: %d %v %s", resp.status, got, resp.raw)
	}
	manyV := ""
	for range maxBackfillFrom + 1 {
		manyV += v
	}
	cases := []struct {
		name, query string
		status      int
		errcode     string
	}{
		{"no v", "?limit=2", 400, "M_MISSING_PARAM"},
		{"no limit", "?v=" + url.QueryEscape(last), 400, "M_MISSING_PARAM"},
		{"zero limit", "?limit=0" + v, 400, "M_INVALID_PARAM"},
		{"bad limit", "?limit=x" + v, 400, "M_INVALID_PARAM"},
		{"too many v", "?limit=2" + manyV, 400, "M_INVALID_PARAM"},
	}
	for _, c := range cases {
		got := e.get(remoteServer, "/v1/backfill/"+room+c.query)
		if got.status != c.status || got.errcode() != c.errcode {
			t.Errorf("%s: %d %s, want %d %s", c.name, got.status, got.raw, c.status, c.errcode)
		}
	}
	// A huge limit is capped, not refused: everything there is comes back.
	big := e.get(remoteServer, "/v1/backfill/"+room+"?limit=100000"+v)
	if n := len(big.body["pdus"].([]any)); big.status != 200 || n < 6 || n > MaxBackfillLimit {
		t.Fatalf("big limit: %d, %d pdus", big.status, n)
	}
	if got := e.get(strangerName, "/v1/backfill/"+room+"?limit=2"+v); got.status != 403 {
		t.Fatalf("not in room: %d", got.status)
	}
}

func TestServeMissingEvents(t *testing.T) {
	e := newReadEnv(t, nil)
	e.remoteJoin("@bob:" + remoteServer)
	m1 := e.message("m1")
	e.message("m2")
	e.message("m3")
	m4 := e.message("m4")
	path := "/v1/get_missing_events/" + escPath(e.roomID)
	resp := e.do(remoteServer, http.MethodPost, path, map[string]any{"earliest_events": []string{m1}, "latest_events": []string{m4}})
	if got := pduBodies(t, resp.body["events"]); resp.status != 200 || !slices.Equal(got, []string{"m2", "m3"}) {
		t.Fatalf("missing events: %d %v %s", resp.status, got, resp.raw)
	}
	resp = e.do(remoteServer, http.MethodPost, path, map[string]any{"earliest_events": []string{m1}, "latest_events": []string{m4}, "limit": 1})
	if got := pduBodies(t, resp.body["events"]); !slices.Equal(got, []string{"m3"}) {
		t.Fatalf("limit 1: %v", got)
	}
	tooMany := make([]string, maxMissingIDsList+1)
	for i := range tooMany {
		tooMany[i] = m4
	}
	cases := []struct {
		name    string
		origin  string
		body    any
		status  int
		errcode string
	}{
		{"no latest", remoteServer, map[string]any{"earliest_events": []string{m1}}, 400, "M_MISSING_PARAM"},
		{"wrong type", remoteServer, map[string]any{"latest_events": "x"}, 400, "M_BAD_JSON"},
		{"too many latest", remoteServer, map[string]any{"latest_events": tooMany}, 400, "M_INVALID_PARAM"},
		{"negative limit", remoteServer, map[string]any{"latest_events": []string{m4}, "limit": -1}, 400, "M_INVALID_PARAM"},
		{"not in room", strangerName, map[string]any{"earliest_events": []string{m1}, "latest_events": []string{m4}}, 403, "M_FORBIDDEN"},
	}
	for _, c := range cases {
		got := e.do(c.origin, http.MethodPost, path, c.body)
		if got.status != c.status || got.errcode() != c.errcode {
			t.Errorf("%s: %d %s, want %d %s", c.name, got.status, got.raw, c.status, c.errcode)
		}
	}
}

// TestPolicyDenialStopsEgress: a denying policy gets 403 and nothing of
// the data.
func TestPolicyDenialStopsEgress(t *testing.T) {
	e := newReadEnv(t, nil)
	e.remoteJoin("@bob:" + remoteServer)
	msg := e.message("secret")
	e.decider.allow = false
	resp := e.get(remoteServer, "/v1/event/"+escPath(msg))
	if resp.status != 403 || resp.errcode() != "M_FORBIDDEN" || slices.Contains(pduBodies(t, resp.body["pdus"]), "secret") {
		t.Fatalf("denied: %d %s", resp.status, resp.raw)
	}
	e.rt.Policy = nil // no decider configured: fail closed
	if resp := e.get(remoteServer, "/v1/event/"+escPath(msg)); resp.status != 403 {
		t.Fatalf("nil policy: %d %s", resp.status, resp.raw)
	}
}

// TestReadsOnPostgres runs the scenarios that touch storage on
// PostgreSQL too (skipped without WARBLER_TEST_POSTGRES).
func TestReadsOnPostgres(t *testing.T) {
	if os.Getenv(pgtest.EnvVar) == "" {
		t.Skip(pgtest.EnvVar + " not set: PostgreSQL tests skipped")
	}
	onPostgres = true
	defer func() { onPostgres = false }()
	for name, scenario := range map[string]func(*testing.T){
		"event access": TestServeEventAccess, "acl": TestServerACLDeniesEveryRoomRead,
		"history visibility": TestHistoryVisibilityOverFederation, "state": TestServeStateAndStateIDs,
		"event auth": TestServeEventAuth, "backfill bounds": TestServeBackfillBounds,
		"missing events": TestServeMissingEvents, "profile": TestServeProfile,
		"backfill fetch": TestBackfillFetchesHistoryBeforeTheJoin, "client backfill": TestClientMessagesBackfillsOverFederation,
		"outlier state": TestOutlierStateIsServed,
	} {
		t.Run(name, scenario)
	}
}
