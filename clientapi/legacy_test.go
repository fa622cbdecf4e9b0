package clientapi

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// chunkOf returns the "chunk" list of a response object.
func chunkOf(body map[string]any) []map[string]any {
	list, _ := body["chunk"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, ev := range list {
		out = append(out, ev.(map[string]any))
	}
	return out
}

func (e *syncEnv) events(token string, params url.Values) testResponse {
	e.t.Helper()
	return e.do("GET", "/_matrix/client/v3/events?"+params.Encode(), nil, token)
}

// eventsNow is an /events token for the current position.
func (e *syncEnv) eventsNow(token string) string {
	e.t.Helper()
	return e.events(token, url.Values{"timeout": {"0"}}).want(e.t, http.StatusOK, "").str("end")
}

func (e *syncEnv) makeWorldReadable(roomID, sender string) {
	empty := ""
	e.send(roomID, sender, "m.room.history_visibility", &empty, map[string]string{"history_visibility": "world_readable"})
}

func TestEventsStreamsMessagesInOrderFromAToken(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	from := e.eventsNow(e.bobToken)
	e.message(room, e.alice, "one")
	e.message(room, e.alice, "two")
	res := e.events(e.bobToken, url.Values{"from": {from}}).want(t, http.StatusOK, "")
	if got := bodies(chunkOf(res.body)); fmt.Sprint(got) != "[one two]" {
		t.Fatalf("chunk %v, want [one two]", got)
	}
	if res.str("start") != from || res.str("end") == from {
		t.Errorf("start %q end %q, from %q", res.str("start"), res.str("end"), from)
	}
	if ev := chunkOf(res.body)[0]; ev["room_id"] != room {
		t.Errorf("event lacks its room_id: %v", ev)
	}
	again := e.events(e.bobToken, url.Values{"from": {res.str("end")}, "timeout": {"0"}}).want(t, http.StatusOK, "")
	if n := len(chunkOf(again.body)); n != 0 || again.str("end") != res.str("end") {
		t.Errorf("from the end token: %d events, end %q", n, again.str("end"))
	}
	// The tokens are sync tokens: /sync from /events' end has nothing old.
	joined := section(e.sync(e.bobToken, url.Values{"since": {res.str("end")}}), "join", room)
	if got := bodies(eventsAt(joined, "timeline")); len(got) != 0 {
		t.Errorf("/sync from /events' end repeats %v", got)
	}
}

func TestEventsLongPollWakesOnOtherUsersMessage(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	from := e.sync(e.bobToken, nil).str("next_batch") // a /sync token works as from
	got := make(chan testResponse, 1)
	go func() { got <- e.events(e.bobToken, url.Values{"from": {from}, "timeout": {"20000"}}) }()
	e.message(room, e.alice, "wake up")
	res := <-got
	if res.status != http.StatusOK || fmt.Sprint(bodies(chunkOf(res.body))) != "[wake up]" {
		t.Fatalf("long-poll got %d %v", res.status, res.body)
	}
}

func TestEventsShowsOnlyTheUsersRooms(t *testing.T) {
	e := newSyncEnv(t)
	shared := e.createRoom(e.alice, e.bob)
	e.membership(shared, e.bob, "join")
	// World readable, so only the leave bounds what bob gets of it.
	e.makeWorldReadable(shared, e.alice)
	private := e.createRoom(e.alice)
	from := e.eventsNow(e.bobToken)
	e.message(private, e.alice, "secret")
	e.message(shared, e.alice, "before leave")
	e.membership(shared, e.bob, "leave")
	e.message(shared, e.alice, "after leave")
	invited := e.createRoom(e.alice, e.bob)
	e.message(invited, e.alice, "before bob joins")
	chunk := chunkOf(e.events(e.bobToken, url.Values{"from": {from}}).want(t, http.StatusOK, "").body)
	if got := fmt.Sprint(bodies(chunk)); got != "[before leave]" {
		t.Errorf("bob's stream has messages %v, want [before leave]", got)
	}
	var inRoom []string
	for _, ev := range chunk {
		if ev["room_id"] == invited {
			inRoom = append(inRoom, ev["type"].(string))
		}
	}
	if fmt.Sprint(inRoom) != "[m.room.member]" || !hasEvent(chunk, "m.room.member", e.bob) {
		t.Errorf("bob's stream has %v of the room he is invited to, want his invite; and his leave", inRoom)
	}
}

// TestEventsLeavesOutIgnoredUsers: as in /sync, an ignored user's
// messages and invites do not reach the stream; their state events do.
func TestEventsLeavesOutIgnoredUsers(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	e.do("PUT", "/_matrix/client/v3/user/"+e.alice+"/account_data/m.ignored_user_list",
		map[string]any{"ignored_users": map[string]any{e.bob: map[string]any{}}}, e.aliceToken).want(t, http.StatusOK, "")
	from := e.eventsNow(e.aliceToken)
	e.message(room, e.bob, "from bob")
	e.message(room, e.alice, "from alice")
	bob := e.bob
	e.send(room, e.bob, "m.room.member", &bob, map[string]string{"membership": "join", "displayname": "Bobby"})
	other := e.createRoom(e.bob, e.alice)
	chunk := chunkOf(e.events(e.aliceToken, url.Values{"from": {from}}).want(t, http.StatusOK, "").body)
	if got := fmt.Sprint(bodies(chunk)); got != "[from alice]" {
		t.Errorf("messages %v, want only alice's", got)
	}
	if !hasEvent(chunk, "m.room.member", e.bob) {
		t.Error("bob's state event is left out")
	}
	for _, ev := range chunk {
		if ev["room_id"] == other {
			t.Errorf("an ignored user's invite reached the stream: %v", ev)
		}
	}
}

// TestEventsPagesWhenMoreThanOneChunk: a room with more new events than
// one answer holds is served oldest first across answers, none skipped.
func TestEventsPagesWhenMoreThanOneChunk(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	other := e.createRoom(e.alice)
	from := e.eventsNow(e.aliceToken)
	const n = maxEventsChunk + 20
	for i := range n {
		e.message([]string{room, other}[i%7/6], e.alice, fmt.Sprint(i))
	}
	var seen []string
	for range 3 {
		res := e.events(e.aliceToken, url.Values{"from": {from}, "timeout": {"0"}}).want(t, http.StatusOK, "")
		seen = append(seen, bodies(chunkOf(res.body))...)
		from = res.str("end")
	}
	if len(seen) != n {
		t.Fatalf("got %d messages, want %d", len(seen), n)
	}
	for i, b := range seen {
		if b != fmt.Sprint(i) {
			t.Fatalf("message %d is %q: out of order", i, b)
		}
	}
}

func TestEventsPeek(t *testing.T) {
	e := newSyncEnv(t)
	open := e.createRoom(e.alice)
	e.makeWorldReadable(open, e.alice)
	closed := e.createRoom(e.alice)
	from := e.eventsNow(e.bobToken)
	e.message(open, e.alice, "for all")
	e.message(closed, e.alice, "members only")
	res := e.events(e.bobToken, url.Values{"from": {from}, "room_id": {open}}).want(t, http.StatusOK, "")
	if got := fmt.Sprint(bodies(chunkOf(res.body))); got != "[for all]" {
		t.Errorf("peek got %v", got)
	}
	if got := bodies(chunkOf(e.events(e.bobToken, url.Values{"from": {from}, "timeout": {"0"}}).body)); len(got) != 0 {
		t.Errorf("without room_id bob sees %v of rooms he is not in", got)
	}
	for name, q := range map[string]url.Values{
		"private room": {"room_id": {closed}},
		"unknown room": {"room_id": {"!nope:" + testServer}},
	} {
		t.Run(name, func(t *testing.T) { e.events(e.bobToken, q).want(t, http.StatusForbidden, "M_FORBIDDEN") })
	}
}

func TestEventsBadParameters(t *testing.T) {
	e := newSyncEnv(t)
	for _, q := range []string{"from=nonsense", "timeout=-1", "timeout=soon", "room_id=not-a-room"} {
		t.Run(q, func(t *testing.T) {
			e.do("GET", "/_matrix/client/v3/events?"+q, nil, e.bobToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
		})
	}
	e.do("GET", "/_matrix/client/v3/events", nil, "").want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
}

// roomsByID indexes /initialSync's rooms.
func roomsByID(body map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := body["rooms"].([]any)
	for _, r := range list {
		room := r.(map[string]any)
		out[room["room_id"].(string)] = room
	}
	return out
}

func listOf(room map[string]any, key string) []map[string]any {
	list, _ := room[key].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, ev := range list {
		out = append(out, ev.(map[string]any))
	}
	return out
}

func TestInitialSync(t *testing.T) {
	e := newSyncEnv(t)
	joined := e.createRoom(e.alice, e.bob)
	e.membership(joined, e.bob, "join")
	invited := e.createRoom(e.alice, e.bob)
	left := e.createRoom(e.alice, e.bob)
	e.membership(left, e.bob, "join")
	e.message(left, e.alice, "seen before leaving")
	e.membership(left, e.bob, "leave")
	e.message(left, e.alice, "after")
	for i := range 3 {
		e.message(joined, e.alice, fmt.Sprint("m", i))
	}
	e.do("PUT", "/_matrix/client/v3/user/"+e.bob+"/account_data/org.example.global", map[string]any{"x": 1}, e.bobToken).want(t, http.StatusOK, "")
	e.do("PUT", "/_matrix/client/v3/user/"+e.bob+"/rooms/"+url.PathEscape(joined)+"/account_data/org.example.room", map[string]any{"y": 2}, e.bobToken).want(t, http.StatusOK, "")
	res := e.do("GET", "/_matrix/client/v3/initialSync?limit=2", nil, e.bobToken).want(t, http.StatusOK, "")
	if res.str("end") == "" || res.body["presence"] == nil {
		t.Errorf("end or presence missing: %v", res.body)
	}
	if !hasEvent(listOf(res.body, "account_data"), "org.example.global", "") {
		t.Errorf("global account data missing: %v", res.body["account_data"])
	}
	rooms := roomsByID(res.body)
	j := rooms[joined]
	if !hasEvent(listOf(j, "account_data"), "org.example.room", "") {
		t.Errorf("room account data missing: %v", j["account_data"])
	}
	if j["membership"] != "join" || j["visibility"] != "private" || !hasEvent(listOf(j, "state"), "m.room.create", "") {
		t.Errorf("joined room: %v", j)
	}
	msgs := j["messages"].(map[string]any)
	if got := fmt.Sprint(bodies(chunkOf(msgs))); got != "[m1 m2]" {
		t.Errorf("messages %v, want the last two", got)
	}
	// start pages back with /messages.
	older := e.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(joined)+"/messages?dir=b&limit=1&from="+url.QueryEscape(msgs["start"].(string)), nil, e.bobToken).want(t, http.StatusOK, "")
	if got := fmt.Sprint(bodies(chunkOf(older.body))); got != "[m0]" {
		t.Errorf("/messages from start gave %v, want [m0]", got)
	}
	if inv := rooms[invited]; inv["membership"] != "invite" || inv["invite"] == nil {
		t.Errorf("invited room: %v", inv)
	}
	if _, ok := rooms[left]; ok {
		t.Error("a left room without archived=true")
	}
	archived := roomsByID(e.do("GET", "/_matrix/client/v3/initialSync?archived=true", nil, e.bobToken).want(t, http.StatusOK, "").body)
	l := archived[left]
	if l["membership"] != "leave" || fmt.Sprint(bodies(chunkOf(l["messages"].(map[string]any)))) != "[seen before leaving]" {
		t.Errorf("left room: %v", l)
	}
	// end continues with /events.
	e.message(joined, e.alice, "later")
	next := e.events(e.bobToken, url.Values{"from": {res.str("end")}}).want(t, http.StatusOK, "")
	if got := fmt.Sprint(bodies(chunkOf(next.body))); got != "[later]" {
		t.Errorf("/events from initialSync's end: %v", got)
	}
	for _, q := range []string{"limit=-1", "limit=x", "archived=maybe"} {
		e.do("GET", "/_matrix/client/v3/initialSync?"+q, nil, e.bobToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	}
}

func TestRoomInitialSync(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	e.message(room, e.alice, "hi")
	empty := ""
	path := func(roomID string) string {
		return "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/initialSync"
	}

	res := e.do("GET", path(room), nil, e.bobToken).want(t, http.StatusOK, "")
	if res.body["membership"] != "join" || res.body["room_id"] != room || !hasEvent(listOf(res.body, "state"), "m.room.name", "") {
		t.Errorf("member's view: %v", res.body)
	}
	if got := bodies(chunkOf(res.body["messages"].(map[string]any))); fmt.Sprint(got) != "[hi]" {
		t.Errorf("messages %v", got)
	}

	// A former member sees the room as they left it.
	e.membership(room, e.bob, "leave")
	e.send(room, e.alice, "m.room.topic", &empty, map[string]string{"topic": "after bob"})
	res = e.do("GET", path(room), nil, e.bobToken).want(t, http.StatusOK, "")
	if res.body["membership"] != "leave" || hasEvent(listOf(res.body, "state"), "m.room.topic", "") {
		t.Errorf("former member's view shows later state: %v", res.body)
	}

	private := e.createRoom(e.alice)
	e.do("GET", path(private), nil, e.bobToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
	e.do("GET", path("!unknown:"+testServer), nil, e.bobToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
	e.do("GET", path("not-a-room"), nil, e.bobToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.makeWorldReadable(private, e.alice)
	res = e.do("GET", path(private), nil, e.bobToken).want(t, http.StatusOK, "")
	if _, has := res.body["membership"]; has || !hasEvent(listOf(res.body, "state"), "m.room.create", "") {
		t.Errorf("peeker's view: %v", res.body)
	}
}

func TestGetEventByID(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	id := e.message(room, e.alice, "visible")
	secret := e.message(e.createRoom(e.alice), e.alice, "hidden")
	res := e.do("GET", "/_matrix/client/v3/events/"+url.PathEscape(id), nil, e.bobToken).want(t, http.StatusOK, "")
	if res.body["event_id"] != id || res.body["room_id"] != room {
		t.Errorf("got %v", res.body)
	}
	for _, missing := range []string{secret, "$nope"} {
		e.do("GET", "/_matrix/client/v3/events/"+url.PathEscape(missing), nil, e.bobToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
	}
}

// TestLegacyEndpointsAuth: every endpoint needs a valid access token;
// guests may peek (/events, a room's initialSync) but not take the
// global snapshot or read events by ID alone.
func TestLegacyEndpointsAuth(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	e.makeWorldReadable(room, e.alice)
	id := e.message(room, e.alice, "hi")
	e.createUser("guest1", "pw-guest-1", true)
	guest := e.login("guest1", "pw-guest-1", nil).str("access_token")
	paths := map[string]int{ // path: status for a guest
		"/_matrix/client/v3/events?timeout=0&room_id=" + url.QueryEscape(room): http.StatusOK,
		"/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/initialSync":    http.StatusOK,
		"/_matrix/client/v3/initialSync":                                       http.StatusForbidden,
		"/_matrix/client/v3/events/" + url.PathEscape(id):                      http.StatusForbidden,
	}
	for path, guestStatus := range paths {
		t.Run(path, func(t *testing.T) {
			e.do("GET", path, nil, "").want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
			e.do("GET", path, nil, "not-a-token").want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
			errcode := ""
			if guestStatus == http.StatusForbidden {
				errcode = "M_GUEST_ACCESS_FORBIDDEN"
			}
			e.do("GET", path, nil, guest).want(t, guestStatus, errcode)
		})
	}
}
