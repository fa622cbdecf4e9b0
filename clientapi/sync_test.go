package clientapi

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/warbler-im/warbler/roomserver"
)

// syncEnv is a test API with a roomserver, and two logged-in users.
type syncEnv struct {
	*testEnv
	alice, bob           string // user IDs
	aliceToken, bobToken string
}

func newSyncEnv(t *testing.T) *syncEnv { return newSyncEnvWith(t, nil) }

// newSyncEnvWith is newSyncEnv with extra configuration of the API.
func newSyncEnvWith(t *testing.T, configure func(a *API)) *syncEnv {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	e := newTestEnv(t, func(a *API) {
		rs, err := roomserver.New(a.Store.(roomserver.Store), roomserver.Config{ServerName: testServer, KeyID: "ed25519:t", PrivateKey: priv})
		if err != nil {
			t.Fatal(err)
		}
		a.Rooms = rs
		if configure != nil {
			configure(a)
		}
	})
	se := &syncEnv{testEnv: e}
	se.alice, se.bob = e.createUser("alice", "pw-alice-1", false), e.createUser("bob", "pw-bob-1", false)
	se.aliceToken = e.login("alice", "pw-alice-1", nil).str("access_token")
	se.bobToken = e.login("bob", "pw-bob-1", nil).str("access_token")
	return se
}

func (e *syncEnv) createRoom(creator string, invite ...string) string {
	e.t.Helper()
	name := "Test room"
	res, err := e.api.Rooms.CreateRoom(e.t.Context(), roomserver.CreateRoomOptions{Creator: creator, Name: &name, Invite: invite})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.RoomID
}

func (e *syncEnv) send(roomID, sender, typ string, stateKey *string, content any) string {
	e.t.Helper()
	raw, _ := json.Marshal(content)
	id, err := e.api.Rooms.SendEvent(e.t.Context(), roomserver.EventRequest{RoomID: roomID, Sender: sender, Type: typ, StateKey: stateKey, Content: raw})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *syncEnv) message(roomID, sender, body string) string {
	return e.send(roomID, sender, "m.room.message", nil, map[string]string{"msgtype": "m.text", "body": body})
}

func (e *syncEnv) membership(roomID, user, membership string) {
	e.send(roomID, user, "m.room.member", &user, map[string]string{"membership": membership})
}

func (e *syncEnv) sync(token string, params url.Values) testResponse {
	e.t.Helper()
	return e.do("GET", "/_matrix/client/v3/sync?"+params.Encode(), nil, token).want(e.t, http.StatusOK, "")
}

// section returns rooms.<kind>.<roomID>, or nil.
func section(r testResponse, kind, roomID string) map[string]any {
	rooms, _ := r.body["rooms"].(map[string]any)
	byID, _ := rooms[kind].(map[string]any)
	room, _ := byID[roomID].(map[string]any)
	return room
}

// eventsAt returns the events list under path (e.g. "timeline").
func eventsAt(room map[string]any, key string) []map[string]any {
	part, _ := room[key].(map[string]any)
	list, _ := part["events"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, ev := range list {
		out = append(out, ev.(map[string]any))
	}
	return out
}

func hasEvent(evs []map[string]any, typ, key string) bool {
	for _, ev := range evs {
		sk, _ := ev["state_key"].(string)
		if ev["type"] == typ && (key == "*" || sk == key) {
			return true
		}
	}
	return false
}

func bodies(evs []map[string]any) []string {
	var out []string
	for _, ev := range evs {
		if c, ok := ev["content"].(map[string]any); ok && ev["type"] == "m.room.message" {
			out = append(out, c["body"].(string))
		}
	}
	return out
}

func TestSyncInitialShowsJoinedRoomWithStateAndTimeline(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	e.message(room, e.alice, "hello")
	resp := e.sync(e.aliceToken, nil)
	joined := section(resp, "join", room)
	if joined == nil {
		t.Fatalf("room not in rooms.join: %v", resp.body)
	}
	timeline := eventsAt(joined, "timeline")
	if got := bodies(timeline); len(got) != 1 || got[0] != "hello" {
		t.Errorf("timeline bodies %v", got)
	}
	all := append(eventsAt(joined, "state"), timeline...)
	for _, typ := range []string{"m.room.create", "m.room.power_levels", "m.room.name"} {
		if !hasEvent(all, typ, "") {
			t.Errorf("no %s in state or timeline", typ)
		}
	}
	tl := joined["timeline"].(map[string]any)
	if tl["prev_batch"] == "" || tl["prev_batch"] == nil {
		t.Error("no prev_batch")
	}
	if _, err := parseSyncToken(resp.str("next_batch")); err != nil {
		t.Errorf("next_batch: %v", err)
	}
	if _, has := timeline[0]["room_id"]; has {
		t.Error("sync events carry no room_id")
	}
}

func TestSyncTimelineLimitAndLimitedFlag(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	for _, b := range []string{"one", "two", "three"} {
		e.message(room, e.alice, b)
	}
	resp := e.sync(e.aliceToken, url.Values{"filter": {`{"room":{"timeline":{"limit":2}}}`}})
	joined := section(resp, "join", room)
	tl := joined["timeline"].(map[string]any)
	if got := bodies(eventsAt(joined, "timeline")); len(got) != 2 || got[0] != "two" || got[1] != "three" {
		t.Errorf("timeline %v", got)
	}
	if tl["limited"] != true {
		t.Error("limited not set")
	}
	// The state before the cut-off timeline holds the room's creation.
	if !hasEvent(eventsAt(joined, "state"), "m.room.create", "") {
		t.Error("state lacks m.room.create")
	}
}

func TestSyncIncrementalLongPollWakesOnOtherUsersMessage(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	next := e.sync(e.aliceToken, nil).str("next_batch")
	got := make(chan testResponse, 1)
	start := time.Now()
	go func() { got <- e.sync(e.aliceToken, url.Values{"since": {next}, "timeout": {"20000"}}) }()
	// Give the poll time to start waiting, so the wake-up path usually
	// runs; the answer must be the same if the message lands first.
	time.Sleep(200 * time.Millisecond)
	e.message(room, e.bob, "hi alice")
	resp := <-got
	if time.Since(start) > 15*time.Second {
		t.Error("long-poll did not return when the message landed")
	}
	if b := bodies(eventsAt(section(resp, "join", room), "timeline")); len(b) != 1 || b[0] != "hi alice" {
		t.Errorf("incremental timeline %v", b)
	}
	if state := eventsAt(section(resp, "join", room), "state"); len(state) != 0 {
		t.Errorf("unlimited incremental sync sent state %v", state)
	}
}

func TestSyncEmptyLongPollTimesOut(t *testing.T) {
	e := newSyncEnv(t)
	e.createRoom(e.alice)
	next := e.sync(e.aliceToken, nil).str("next_batch")
	resp := e.sync(e.aliceToken, url.Values{"since": {next}, "timeout": {"100"}})
	if resp.str("next_batch") != next {
		t.Errorf("next_batch %q, want %q", resp.str("next_batch"), next)
	}
	if rooms := resp.body["rooms"].(map[string]any); len(rooms["join"].(map[string]any)) != 0 {
		t.Errorf("empty sync has rooms: %v", rooms)
	}
}

func TestSyncInviteJoinAndLeaveTransitions(t *testing.T) {
	e := newSyncEnv(t)
	next := e.sync(e.bobToken, nil).str("next_batch")
	room := e.createRoom(e.alice, e.bob)

	resp := e.sync(e.bobToken, url.Values{"since": {next}})
	invite := section(resp, "invite", room)
	stripped := eventsAt(invite, "invite_state")
	for _, want := range [][2]string{{"m.room.create", ""}, {"m.room.name", ""}, {"m.room.join_rules", ""}, {"m.room.member", e.bob}, {"m.room.member", e.alice}} {
		if !hasEvent(stripped, want[0], want[1]) {
			t.Errorf("invite_state lacks %v: %v", want, stripped)
		}
	}
	if section(resp, "join", room) != nil {
		t.Error("invited room listed as joined")
	}

	next = resp.str("next_batch")
	e.message(room, e.alice, "before bob joined")
	e.membership(room, e.bob, "join")
	resp = e.sync(e.bobToken, url.Values{"since": {next}})
	joined := section(resp, "join", room)
	if joined == nil || !hasEvent(append(eventsAt(joined, "state"), eventsAt(joined, "timeline")...), "m.room.create", "") {
		t.Fatalf("a newly joined room comes with its full state: %v", joined)
	}

	next = resp.str("next_batch")
	e.message(room, e.alice, "while bob was in")
	e.membership(room, e.bob, "leave")
	e.message(room, e.alice, "after bob left")
	resp = e.sync(e.bobToken, url.Values{"since": {next}})
	left := section(resp, "leave", room)
	if left == nil || !hasEvent(eventsAt(left, "timeline"), "m.room.member", e.bob) {
		t.Fatalf("leave not in rooms.leave: %v", resp.body["rooms"])
	}
	if b := bodies(eventsAt(left, "timeline")); len(b) != 1 || b[0] != "while bob was in" {
		t.Errorf("a left room's timeline ends at the leave: %v", b)
	}
	if section(resp, "join", room) != nil {
		t.Error("left room still joined")
	}
	// An initial sync leaves left rooms out unless the filter asks.
	if section(e.sync(e.bobToken, nil), "leave", room) != nil {
		t.Error("initial sync shows a left room without include_leave")
	}
	if section(e.sync(e.bobToken, url.Values{"filter": {`{"room":{"include_leave":true}}`}}), "leave", room) == nil {
		t.Error("include_leave did not show the left room")
	}
}

func TestSyncFullStateAndTypeFilters(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	next := e.sync(e.aliceToken, nil).str("next_batch")
	resp := e.sync(e.aliceToken, url.Values{"since": {next}, "full_state": {"true"}})
	if !hasEvent(eventsAt(section(resp, "join", room), "state"), "m.room.create", "") {
		t.Error("full_state sync lacks the state")
	}
	e.message(room, e.alice, "text")
	f := `{"room":{"timeline":{"not_types":["m.room.message"]},"state":{"types":["m.room.name"]}}}`
	resp = e.sync(e.aliceToken, url.Values{"filter": {f}})
	joined := section(resp, "join", room)
	if b := bodies(eventsAt(joined, "timeline")); len(b) != 0 {
		t.Errorf("not_types let messages through: %v", b)
	}
	for _, ev := range eventsAt(joined, "state") {
		if ev["type"] != "m.room.name" {
			t.Errorf("state filter let %v through", ev["type"])
		}
	}
	if f := `{"room":{"not_rooms":["` + room + `"]}}`; section(e.sync(e.aliceToken, url.Values{"filter": {f}}), "join", room) != nil {
		t.Error("not_rooms ignored")
	}
}

func TestSyncLazyLoadsMembersOfTimelineSenders(t *testing.T) {
	e := newSyncEnv(t)
	carol := e.createUser("carol", "pw-carol-1", false)
	room := e.createRoom(e.alice, e.bob, carol)
	e.membership(room, e.bob, "join")
	e.membership(room, carol, "join")
	e.message(room, e.bob, "from bob")
	f := `{"room":{"timeline":{"limit":1},"state":{"lazy_load_members":true}}}`
	joined := section(e.sync(e.aliceToken, url.Values{"filter": {f}}), "join", room)
	state := eventsAt(joined, "state")
	if !hasEvent(state, "m.room.member", e.bob) || !hasEvent(state, "m.room.member", e.alice) {
		t.Errorf("lazy loading dropped the sender's or own member event: %v", state)
	}
	if hasEvent(state, "m.room.member", carol) {
		t.Error("lazy loading kept a member who sent nothing")
	}

	// An incremental sync brings the member event of a new sender.
	next := e.sync(e.aliceToken, nil).str("next_batch")
	e.message(room, carol, "from carol")
	joined = section(e.sync(e.aliceToken, url.Values{"filter": {f}, "since": {next}}), "join", room)
	state = eventsAt(joined, "state")
	if !hasEvent(state, "m.room.member", carol) || hasEvent(state, "m.room.create", "") {
		t.Errorf("incremental lazy loading: want carol's member event only: %v", state)
	}
}

func TestSyncBadParameters(t *testing.T) {
	e := newSyncEnv(t)
	for _, q := range []string{"since=garbage", "timeout=-5", "full_state=maybe", "filter=nosuchfilter", "filter={bad"} {
		e.do("GET", "/_matrix/client/v3/sync?"+q, nil, e.aliceToken).want(t, http.StatusBadRequest, errcodeFor(q))
	}
	e.do("GET", "/_matrix/client/v3/sync", nil, "").want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
}

func errcodeFor(q string) string {
	if q == "filter={bad" {
		return "M_BAD_JSON"
	}
	return "M_INVALID_PARAM"
}

func TestFilterEndpoints(t *testing.T) {
	e := newSyncEnv(t)
	path := "/_matrix/client/v3/user/" + e.alice + "/filter"
	filter := map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": 1}}}
	id := e.do("POST", path, filter, e.aliceToken).want(t, http.StatusOK, "").str("filter_id")
	got := e.do("GET", path+"/"+id, nil, e.aliceToken).want(t, http.StatusOK, "")
	if room, _ := got.body["room"].(map[string]any); room["timeline"] == nil {
		t.Errorf("filter came back as %v", got.body)
	}
	e.do("GET", path+"/nosuch", nil, e.aliceToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.do("POST", path, filter, e.bobToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
	// filter.yaml lists only 404 for GET: someone else's filter is unknown.
	e.do("GET", path+"/"+id, nil, e.bobToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.do("POST", path, map[string]any{"room": map[string]any{"rooms": "x"}}, e.aliceToken).want(t, http.StatusBadRequest, "M_BAD_JSON")

	// A filter ID is the owner's only.
	e.do("GET", "/_matrix/client/v3/sync?filter="+id, nil, e.bobToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	again := e.do("POST", path, filter, e.aliceToken).want(t, http.StatusOK, "").str("filter_id")
	if again != id {
		t.Errorf("the same filter uploaded twice got IDs %q and %q", id, again)
	}

	room := e.createRoom(e.alice)
	e.message(room, e.alice, "a")
	e.message(room, e.alice, "b")
	joined := section(e.sync(e.aliceToken, url.Values{"filter": {id}}), "join", room)
	if b := bodies(eventsAt(joined, "timeline")); len(b) != 1 || b[0] != "b" {
		t.Errorf("stored filter's limit not applied: %v", b)
	}
}

func TestSyncLimitedIncrementalSendsOnlyChangedState(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	next := e.sync(e.aliceToken, nil).str("next_batch")
	empty := ""
	e.send(room, e.alice, "m.room.topic", &empty, map[string]string{"topic": "new topic"})
	e.message(room, e.alice, "one")
	e.message(room, e.alice, "two")
	f := `{"room":{"timeline":{"limit":1}}}`
	joined := section(e.sync(e.aliceToken, url.Values{"since": {next}, "filter": {f}}), "join", room)
	state := eventsAt(joined, "state")
	if !hasEvent(state, "m.room.topic", "") {
		t.Errorf("state delta lacks the new topic: %v", state)
	}
	if hasEvent(state, "m.room.create", "") {
		t.Error("state delta repeats state the client already has")
	}
}

// TestSyncTimelineFilterAppliesBeforeTheLimit: with a limit of 1 and a
// types filter, newer events of another type must not leave the timeline
// empty: the sync reaches back for the newest message.
func TestSyncTimelineFilterAppliesBeforeTheLimit(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	e.message(room, e.alice, "older")
	e.message(room, e.alice, "the message")
	empty := ""
	for i := range 5 {
		e.send(room, e.alice, "m.room.topic", &empty, map[string]string{"topic": fmt.Sprintf("topic %d", i)})
	}
	f := `{"room":{"timeline":{"limit":1,"types":["m.room.message"]}}}`
	joined := section(e.sync(e.aliceToken, url.Values{"filter": {f}}), "join", room)
	if got := bodies(eventsAt(joined, "timeline")); len(got) != 1 || got[0] != "the message" {
		t.Errorf("timeline %v, want the newest message", got)
	}
	if tl := joined["timeline"].(map[string]any); tl["limited"] != true {
		t.Error("older events were left out: limited must be set")
	}
}

// TestSyncTypeFilteredTimelineKeepsTheState: when the whole room fits in one
// read, the events the timeline filter hides (the room's creation and its
// state) come before the first kept event, so they are the state before the
// timeline, not lost between an empty state and a filtered timeline.
func TestSyncTypeFilteredTimelineKeepsTheState(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	e.message(room, e.alice, "hello")
	f := `{"room":{"timeline":{"types":["m.room.message"]}}}`
	joined := section(e.sync(e.aliceToken, url.Values{"filter": {f}}), "join", room)
	if got := bodies(eventsAt(joined, "timeline")); len(got) != 1 || got[0] != "hello" {
		t.Errorf("timeline %v, want the message", got)
	}
	state := eventsAt(joined, "state")
	if !hasEvent(state, "m.room.create", "") || !hasEvent(state, "m.room.member", e.alice) {
		t.Errorf("the state the filter hid from the timeline is missing: %v", state)
	}
}

// TestInitialSyncsWaitForAFreeSlot: with every slot for initial syncs
// taken, an initial sync waits for one, while incremental syncs go on.
func TestInitialSyncsWaitForAFreeSlot(t *testing.T) {
	e := newSyncEnv(t)
	since := e.sync(e.aliceToken, nil).str("next_batch")
	slots := e.api.syncs.fullSyncs
	for range cap(slots) {
		slots <- struct{}{}
	}
	answered := make(chan testResponse, 1)
	go func() { answered <- e.sync(e.aliceToken, nil) }()
	e.sync(e.aliceToken, url.Values{"since": {since}}) // not held up
	select {
	case <-answered:
		t.Fatal("an initial sync ran while every slot was taken")
	case <-time.After(100 * time.Millisecond):
	}
	<-slots
	<-answered
	for range cap(slots) - 1 {
		<-slots
	}
}
