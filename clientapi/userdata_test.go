package clientapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// userDataEnv is a sync env with a room alice and bob are joined to.
type userDataEnv struct {
	*syncEnv
	room string
}

func newUserDataEnv(t *testing.T) *userDataEnv {
	t.Helper()
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	return &userDataEnv{syncEnv: e, room: room}
}

// longPoll starts an incremental sync from since and returns its answer
// once the poll is registered with the notifier, so the caller's next
// change exercises the wake-up. It does not set the user online (which
// would itself be news to the user).
func (e *userDataEnv) longPoll(user, token, since string) <-chan testResponse {
	e.t.Helper()
	done := make(chan testResponse, 1)
	before := e.api.syncs.notifier.waitersOf(user)
	q := url.Values{"since": {since}, "timeout": {"20000"}, "set_presence": {"offline"}}
	go func() { done <- e.sync(token, q) }()
	for i := 0; e.api.syncs.notifier.waitersOf(user) == before; i++ {
		if i > 5000 || len(done) > 0 {
			e.t.Fatal("long-poll never registered, or answered at once")
		}
		time.Sleep(time.Millisecond)
	}
	return done
}

func (e *userDataEnv) await(done <-chan testResponse) testResponse {
	e.t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(15 * time.Second):
		e.t.Fatal("long-poll not woken")
		return testResponse{}
	}
}

// ephemeral returns the events of a type in rooms.join[room].ephemeral.
func ephemeral(r testResponse, room, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range eventsAt(section(r, "join", room), "ephemeral") {
		if ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

func roomAccountData(r testResponse, room string) map[string]any {
	out := map[string]any{}
	for _, ev := range eventsAt(section(r, "join", room), "account_data") {
		out[ev["type"].(string)] = ev["content"]
	}
	return out
}

func TestAccountDataEndpointsAndErrors(t *testing.T) {
	e := newUserDataEnv(t)
	global := v3 + "/user/" + e.alice + "/account_data/org.example.cfg"
	inRoom := v3 + "/user/" + e.alice + "/rooms/" + e.room + "/account_data/org.example.cfg"
	e.do("GET", global, nil, e.aliceToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.do("PUT", global, map[string]any{"a": 1}, e.aliceToken).want(t, http.StatusOK, "")
	e.do("PUT", inRoom, map[string]any{"b": 2}, e.aliceToken).want(t, http.StatusOK, "")
	if got := e.do("GET", global, nil, e.aliceToken).want(t, http.StatusOK, ""); got.body["a"] != 1.0 {
		t.Errorf("global entry %v", got.body)
	}
	if got := e.do("GET", inRoom, nil, e.aliceToken).want(t, http.StatusOK, ""); got.body["b"] != 2.0 || got.body["a"] != nil {
		t.Errorf("room entry %v", got.body)
	}
	bobsPath := v3 + "/user/" + e.bob + "/account_data/org.example.cfg"
	cases := []struct {
		name, method, path string
		body               any
		status             int
		errcode            string
	}{
		{"another user's, put", "PUT", bobsPath, map[string]any{}, 403, "M_FORBIDDEN"},
		{"another user's, get", "GET", bobsPath, nil, 403, "M_FORBIDDEN"},
		{"not an object", "PUT", global, json.RawMessage(`[1]`), 400, "M_NOT_JSON"},
		{"null", "PUT", global, json.RawMessage(`null`), 400, "M_NOT_JSON"},
		{"m.fully_read", "PUT", v3 + "/user/" + e.alice + "/account_data/m.fully_read", map[string]any{}, 405, "M_BAD_JSON"},
		{"m.push_rules in a room", "PUT", v3 + "/user/" + e.alice + "/rooms/" + e.room + "/account_data/m.push_rules", map[string]any{}, 405, "M_BAD_JSON"},
		{"bad room ID", "GET", v3 + "/user/" + e.alice + "/rooms/@notaroom:x/account_data/t", nil, 400, "M_INVALID_PARAM"},
		{"too large", "PUT", global, map[string]string{"x": string(make([]byte, maxAccountDataBytes))}, 413, "M_TOO_LARGE"},
		{"room entry unset", "GET", v3 + "/user/" + e.alice + "/rooms/" + e.room + "/account_data/other", nil, 404, "M_NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.do(tc.method, tc.path, tc.body, e.aliceToken).want(t, tc.status, tc.errcode)
		})
	}
	if got := e.do("GET", global, nil, e.aliceToken); got.body["a"] != 1.0 {
		t.Errorf("refused writes changed the entry: %v", got.body)
	}
}

func TestAccountDataReachesSyncInitialAndIncremental(t *testing.T) {
	e := newUserDataEnv(t)
	e.do("PUT", v3+"/user/"+e.alice+"/account_data/a.one", map[string]any{"n": 1}, e.aliceToken).want(t, 200, "")
	e.do("PUT", v3+"/user/"+e.alice+"/rooms/"+e.room+"/account_data/a.room", map[string]any{"n": 2}, e.aliceToken).want(t, 200, "")
	bobs := e.sync(e.bobToken, nil)
	if got := accountDataTypes(bobs); len(got) != 0 || len(roomAccountData(bobs, e.room)) != 0 {
		t.Errorf("bob sees alice's account data %v", got)
	}
	first := e.sync(e.aliceToken, nil)
	if got := accountDataTypes(first); !slices.Equal(got, []string{"a.one"}) {
		t.Errorf("initial global account data %v", got)
	}
	if got := roomAccountData(first, e.room); got["a.room"] == nil {
		t.Errorf("initial room account data %v", got)
	}
	done := e.longPoll(e.alice, e.aliceToken, first.str("next_batch"))
	e.do("PUT", v3+"/user/"+e.alice+"/account_data/a.two", map[string]any{}, e.aliceToken).want(t, 200, "")
	next := e.await(done)
	if got := accountDataTypes(next); !slices.Equal(got, []string{"a.two"}) {
		t.Errorf("incremental account data %v, want only the new entry", got)
	}
	if section(next, "join", e.room) != nil {
		t.Errorf("room entry sent again: %v", section(next, "join", e.room))
	}
}

func TestTagsRoundTripThroughAccountData(t *testing.T) {
	e := newUserDataEnv(t)
	tags := v3 + "/user/" + e.alice + "/rooms/" + e.room + "/tags"
	e.do("PUT", tags+"/u.work", map[string]any{"order": 0.25}, e.aliceToken).want(t, 200, "")
	e.do("PUT", tags+"/m.favourite", map[string]any{}, e.aliceToken).want(t, 200, "")
	e.do("PUT", tags+"/u.bad", map[string]any{"order": 2}, e.aliceToken).want(t, 400, "M_INVALID_PARAM")
	e.do("PUT", tags+"/u.bad", map[string]any{"order": "high"}, e.aliceToken).want(t, 400, "M_INVALID_PARAM")
	e.do("PUT", v3+"/user/"+e.bob+"/rooms/"+e.room+"/tags/u.x", map[string]any{}, e.aliceToken).want(t, 403, "M_FORBIDDEN")
	e.do("DELETE", tags+"/m.favourite", nil, e.aliceToken).want(t, 200, "")
	e.do("DELETE", tags+"/never.set", nil, e.aliceToken).want(t, 200, "")
	got := e.do("GET", tags, nil, e.aliceToken).want(t, 200, "")
	want := map[string]any{"u.work": map[string]any{"order": 0.25}}
	if b, _ := json.Marshal(got.body["tags"]); string(b) != mustString(want) {
		t.Errorf("tags %s, want %s", b, mustString(want))
	}
	content, _ := roomAccountData(e.sync(e.aliceToken, nil), e.room)["m.tag"].(map[string]any)
	if b, _ := json.Marshal(content["tags"]); string(b) != mustString(want) {
		t.Errorf("m.tag in sync %s", b)
	}
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func typingUsers(r testResponse, room string) []string {
	evs := ephemeral(r, room, "m.typing")
	if len(evs) != 1 {
		return nil
	}
	var out []string
	for _, u := range evs[0]["content"].(map[string]any)["user_ids"].([]any) {
		out = append(out, u.(string))
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func TestTypingWakesRoomMatesAndExpires(t *testing.T) {
	e := newUserDataEnv(t)
	typing := v3 + "/rooms/" + e.room + "/typing/" + e.alice
	e.do("PUT", v3+"/rooms/"+e.room+"/typing/"+e.bob, map[string]any{"typing": true}, e.aliceToken).want(t, 403, "M_FORBIDDEN")
	e.do("PUT", typing, map[string]any{"timeout": 100}, e.aliceToken).want(t, 400, "M_MISSING_PARAM")
	e.do("PUT", typing, json.RawMessage(`{"typing":"yes"}`), e.aliceToken).want(t, 400, "M_BAD_JSON")
	carol := e.createUser("carol", "pw-carol-1", false)
	carolToken := e.login("carol", "pw-carol-1", nil).str("access_token")
	e.do("PUT", v3+"/rooms/"+e.room+"/typing/"+carol, map[string]any{"typing": true}, carolToken).want(t, 403, "M_FORBIDDEN")

	e.sync(e.aliceToken, nil) // alice comes online before bob's baseline
	since := e.sync(e.bobToken, nil).str("next_batch")
	done := e.longPoll(e.bob, e.bobToken, since)
	e.do("PUT", typing, map[string]any{"typing": true, "timeout": 30000}, e.aliceToken).want(t, 200, "")
	r := e.await(done)
	if got := typingUsers(r, e.room); !slices.Equal(got, []string{e.alice}) {
		t.Fatalf("typing users %v, want alice", got)
	}
	if got := typingUsers(e.sync(e.bobToken, nil), e.room); !slices.Equal(got, []string{e.alice}) {
		t.Errorf("initial sync typing users %v", got)
	}
	// Typing again only extends the timeout: no change to report.
	e.do("PUT", typing, map[string]any{"typing": true, "timeout": 30000}, e.aliceToken).want(t, 200, "")
	quiet := e.sync(e.bobToken, url.Values{"since": {r.str("next_batch")}, "timeout": {"0"}})
	if got := typingUsers(quiet, e.room); got != nil {
		t.Errorf("an extension was reported: %v", got)
	}
	// A short timeout expires by itself and still wakes the long-poll.
	done = e.longPoll(e.bob, e.bobToken, r.str("next_batch"))
	e.api.SetTyping(e.room, e.alice, true, 50*time.Millisecond)
	r = e.await(done)
	if got := typingUsers(r, e.room); got == nil {
		t.Fatalf("no m.typing after the re-type: %v", r.body)
	}
	for got := typingUsers(r, e.room); len(got) != 0; got = typingUsers(r, e.room) {
		r = e.await(e.longPoll(e.bob, e.bobToken, r.str("next_batch")))
	}
}

func TestTypingStopsOnRequest(t *testing.T) {
	e := newUserDataEnv(t)
	typing := v3 + "/rooms/" + e.room + "/typing/" + e.alice
	e.sync(e.aliceToken, nil)
	e.do("PUT", typing, map[string]any{"typing": true, "timeout": 30000}, e.aliceToken).want(t, 200, "")
	first := e.sync(e.bobToken, nil)
	if got := typingUsers(first, e.room); !slices.Equal(got, []string{e.alice}) {
		t.Fatalf("initial typing users %v", got)
	}
	done := e.longPoll(e.bob, e.bobToken, first.str("next_batch"))
	e.do("PUT", typing, map[string]any{"typing": false}, e.aliceToken).want(t, 200, "")
	if got := typingUsers(e.await(done), e.room); got == nil || len(got) != 0 {
		t.Errorf("after alice stopped: %v, want an empty m.typing", got)
	}
}

func receiptUsers(r testResponse, room, eventID, typ string) []string {
	var out []string
	for _, ev := range ephemeral(r, room, "m.receipt") {
		byType, _ := ev["content"].(map[string]any)[eventID].(map[string]any)
		users, _ := byType[typ].(map[string]any)
		for u := range users {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

func TestReceiptsPublicToMembersPrivateToOwner(t *testing.T) {
	e := newUserDataEnv(t)
	first := e.message(e.room, e.bob, "one")
	second := e.message(e.room, e.bob, "two")
	e.sync(e.aliceToken, nil)
	since := e.sync(e.bobToken, nil).str("next_batch")
	done := e.longPoll(e.bob, e.bobToken, since)
	e.do("POST", v3+"/rooms/"+e.room+"/receipt/m.read/"+second, map[string]any{}, e.aliceToken).want(t, 200, "")
	r := e.await(done)
	if got := receiptUsers(r, e.room, second, "m.read"); !slices.Equal(got, []string{e.alice}) {
		t.Fatalf("bob sees m.read of %v, want alice", got)
	}
	// Backwards: accepted, but the receipt stays on the later event.
	e.do("POST", v3+"/rooms/"+e.room+"/receipt/m.read/"+first, map[string]any{}, e.aliceToken).want(t, 200, "")
	if got := receiptUsers(e.sync(e.bobToken, nil), e.room, first, "m.read"); len(got) != 0 {
		t.Errorf("the receipt moved back to the first event: %v", got)
	}
	e.do("POST", v3+"/rooms/"+e.room+"/receipt/m.read.private/"+second, map[string]any{"thread_id": "main"}, e.aliceToken).want(t, 200, "")
	if got := receiptUsers(e.sync(e.aliceToken, nil), e.room, second, "m.read.private"); !slices.Equal(got, []string{e.alice}) {
		t.Errorf("alice's own private receipt: %v", got)
	}
	if got := receiptUsers(e.sync(e.bobToken, nil), e.room, second, "m.read.private"); len(got) != 0 {
		t.Errorf("bob sees alice's private receipt: %v", got)
	}
}

func TestReceiptAndReadMarkerErrors(t *testing.T) {
	e := newUserDataEnv(t)
	ev := e.message(e.room, e.bob, "hello")
	other := e.createRoom(e.bob)
	elsewhere := e.message(other, e.bob, "elsewhere")
	receipt := v3 + "/rooms/" + e.room + "/receipt/"
	cases := []struct {
		name    string
		path    string
		body    any
		status  int
		errcode string
	}{
		{"unknown receipt type", receipt + "m.seen/" + ev, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"empty thread", receipt + "m.read/" + ev, map[string]any{"thread_id": ""}, 400, "M_INVALID_PARAM"},
		{"thread not a string", receipt + "m.read/" + ev, map[string]any{"thread_id": 3}, 400, "M_INVALID_PARAM"},
		{"thread on fully_read", receipt + "m.fully_read/" + ev, map[string]any{"thread_id": "main"}, 400, "M_INVALID_PARAM"},
		{"not JSON", receipt + "m.read/" + ev, json.RawMessage(`"x"`), 400, "M_NOT_JSON"},
		{"event of another room", receipt + "m.read/" + elsewhere, map[string]any{}, 404, "M_NOT_FOUND"},
		{"not in the room", v3 + "/rooms/" + other + "/receipt/m.read/" + elsewhere, map[string]any{}, 403, "M_FORBIDDEN"},
		{"read markers not in the room", v3 + "/rooms/" + other + "/read_markers", map[string]any{"m.read": elsewhere}, 403, "M_FORBIDDEN"},
		{"read marker not a string", v3 + "/rooms/" + e.room + "/read_markers", map[string]any{"m.read": 1}, 400, "M_BAD_JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", tc.path, tc.body, e.aliceToken).want(t, tc.status, tc.errcode)
		})
	}
}

func TestReadMarkersSetFullyReadAndReceipts(t *testing.T) {
	e := newUserDataEnv(t)
	ev := e.message(e.room, e.bob, "hello")
	e.do("POST", v3+"/rooms/"+e.room+"/read_markers", map[string]any{"m.fully_read": ev, "m.read.private": ev}, e.aliceToken).want(t, 200, "")
	e.do("POST", v3+"/rooms/"+e.room+"/receipt/m.fully_read/"+ev, map[string]any{}, e.aliceToken).want(t, 200, "")
	r := e.sync(e.aliceToken, nil)
	marker, _ := roomAccountData(r, e.room)["m.fully_read"].(map[string]any)
	if marker["event_id"] != ev {
		t.Errorf("m.fully_read %v", marker)
	}
	if got := receiptUsers(r, e.room, ev, "m.read.private"); !slices.Equal(got, []string{e.alice}) {
		t.Errorf("private receipt via read_markers: %v", got)
	}
	got := e.do("GET", v3+"/user/"+e.alice+"/rooms/"+e.room+"/account_data/m.fully_read", nil, e.aliceToken).want(t, 200, "")
	if got.body["event_id"] != ev {
		t.Errorf("m.fully_read is readable as account data: %v", got.body)
	}
}

func presenceOf(r testResponse, user string) map[string]any {
	pres, _ := r.body["presence"].(map[string]any)
	evs, _ := pres["events"].([]any)
	for _, ev := range evs {
		m := ev.(map[string]any)
		if m["sender"] == user {
			return m["content"].(map[string]any)
		}
	}
	return nil
}

func TestPresenceVisibleToRoomMatesOnly(t *testing.T) {
	e := newUserDataEnv(t)
	carol := e.createUser("carol", "pw-carol-1", false)
	carolToken := e.login("carol", "pw-carol-1", nil).str("access_token")
	status := v3 + "/presence/" + e.alice + "/status"
	e.do("PUT", status, map[string]any{"presence": "busy"}, e.aliceToken).want(t, 400, "M_INVALID_PARAM")
	e.do("PUT", status, map[string]any{}, e.aliceToken).want(t, 400, "M_MISSING_PARAM")
	e.do("PUT", v3+"/presence/"+e.bob+"/status", map[string]any{"presence": "online"}, e.aliceToken).want(t, 403, "M_FORBIDDEN")
	e.do("GET", status, nil, carolToken).want(t, 403, "M_FORBIDDEN")
	e.do("GET", "/_matrix/client/v3/sync?set_presence=away", nil, e.aliceToken).want(t, 400, "M_INVALID_PARAM")

	since := e.sync(e.bobToken, url.Values{"set_presence": {"offline"}}).str("next_batch")
	done := e.longPoll(e.bob, e.bobToken, since)
	e.do("PUT", status, map[string]any{"presence": "unavailable", "status_msg": "lunch"}, e.aliceToken).want(t, 200, "")
	r := e.await(done)
	if p := presenceOf(r, e.alice); p == nil || p["presence"] != "unavailable" || p["status_msg"] != "lunch" {
		t.Fatalf("bob sees alice's presence %v", p)
	}
	got := e.do("GET", status, nil, e.bobToken).want(t, 200, "")
	if got.body["presence"] != "unavailable" || got.body["status_msg"] != "lunch" {
		t.Errorf("GET presence %v", got.body)
	}
	if p := presenceOf(e.sync(carolToken, nil), e.alice); p != nil {
		t.Errorf("a stranger sees alice's presence %v", p)
	}
	if p := presenceOf(e.sync(carolToken, nil), carol); p == nil || p["presence"] != "online" {
		t.Errorf("carol's own presence after syncing %v", p)
	}
	// A sync with set_presence=online brings alice back, keeping her message.
	e.sync(e.aliceToken, nil)
	if p := presenceOf(e.sync(e.bobToken, nil), e.alice); p["presence"] != "online" || p["status_msg"] != "lunch" {
		t.Errorf("after alice's sync %v", p)
	}
}

func TestPresenceDisabled(t *testing.T) {
	e := newSyncEnv(t)
	e.api.userData.presence.enabled = false
	e.do("PUT", v3+"/presence/"+e.alice+"/status", map[string]any{"presence": "online"}, e.aliceToken).want(t, 200, "")
	if p := presenceOf(e.sync(e.aliceToken, nil), e.alice); p != nil {
		t.Errorf("presence sent while disabled: %v", p)
	}
	got := e.do("GET", v3+"/presence/"+e.alice+"/status", nil, e.aliceToken).want(t, 200, "")
	if got.body["presence"] != "offline" {
		t.Errorf("presence while disabled %v", got.body)
	}
}

func TestJoiningARoomBringsItsReceiptsAndTypers(t *testing.T) {
	e := newUserDataEnv(t)
	carol := e.createUser("carol", "pw-carol-1", false)
	carolToken := e.login("carol", "pw-carol-1", nil).str("access_token")
	ev := e.message(e.room, e.bob, "before carol")
	e.do("POST", v3+"/rooms/"+e.room+"/receipt/m.read/"+ev, map[string]any{}, e.aliceToken).want(t, 200, "")
	e.do("PUT", v3+"/rooms/"+e.room+"/typing/"+e.alice, map[string]any{"typing": true}, e.aliceToken).want(t, 200, "")
	since := e.sync(carolToken, nil).str("next_batch")
	e.send(e.room, e.alice, "m.room.member", &carol, map[string]string{"membership": "invite"})
	e.membership(e.room, carol, "join")
	r := e.sync(carolToken, url.Values{"since": {since}})
	if got := receiptUsers(r, e.room, ev, "m.read"); !slices.Equal(got, []string{e.alice}) {
		t.Errorf("receipts in the room carol joined: %v", got)
	}
	if got := typingUsers(r, e.room); !slices.Equal(got, []string{e.alice}) {
		t.Errorf("typers in the room carol joined: %v", got)
	}
}

func TestGuestsCannotUseUserDataEndpoints(t *testing.T) {
	e := newUserDataEnv(t)
	guest := e.createUser("guest1", "pw-guest-1", true)
	token := e.login("guest1", "pw-guest-1", nil).str("access_token")
	e.do("PUT", v3+"/user/"+guest+"/account_data/x.y", map[string]any{}, token).want(t, 403, "M_GUEST_ACCESS_FORBIDDEN")
	e.do("PUT", v3+"/rooms/"+e.room+"/typing/"+guest, map[string]any{"typing": true}, token).want(t, 403, "M_GUEST_ACCESS_FORBIDDEN")
}

func TestSyncFiltersApplyToUserDataStreams(t *testing.T) {
	e := newUserDataEnv(t)
	ev := e.message(e.room, e.bob, "hello")
	e.do("PUT", v3+"/user/"+e.alice+"/account_data/a.shown", map[string]any{}, e.aliceToken).want(t, 200, "")
	e.do("PUT", v3+"/user/"+e.alice+"/account_data/a.hidden", map[string]any{}, e.aliceToken).want(t, 200, "")
	e.do("PUT", v3+"/user/"+e.alice+"/rooms/"+e.room+"/account_data/a.room", map[string]any{}, e.aliceToken).want(t, 200, "")
	e.do("PUT", v3+"/rooms/"+e.room+"/typing/"+e.alice, map[string]any{"typing": true}, e.aliceToken).want(t, 200, "")
	e.do("POST", v3+"/rooms/"+e.room+"/receipt/m.read/"+ev, map[string]any{}, e.aliceToken).want(t, 200, "")
	e.sync(e.bobToken, nil) // bob is online
	filter := `{"presence":{"types":[]},"account_data":{"not_types":["a.hid*"]},` +
		`"room":{"ephemeral":{"not_types":["m.typing"]},"account_data":{"types":[]}}}`
	r := e.sync(e.aliceToken, url.Values{"filter": {filter}})
	if got := accountDataTypes(r); !slices.Equal(got, []string{"a.shown"}) {
		t.Errorf("global account data %v", got)
	}
	if got := roomAccountData(r, e.room); len(got) != 0 {
		t.Errorf("room account data %v", got)
	}
	if typingUsers(r, e.room) != nil || len(ephemeral(r, e.room, "m.receipt")) != 1 {
		t.Errorf("ephemeral %v", eventsAt(section(r, "join", e.room), "ephemeral"))
	}
	if p := presenceOf(r, e.bob); p != nil {
		t.Errorf("presence filtered out, got %v", p)
	}
	r = e.sync(e.aliceToken, url.Values{"filter": {`{"presence":{"senders":["` + e.bob + `"]}}`}})
	if presenceOf(r, e.bob) == nil || presenceOf(r, e.alice) != nil {
		t.Errorf("presence filtered by sender: %v", r.body["presence"])
	}
}
