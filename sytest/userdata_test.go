package sytest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestEphemeralAndUserDataWithMautrix drives typing, receipts, account
// data, tags and presence with a real client library: alice acts, bob's
// long-polling /sync must receive it, and carol (in no shared room) must
// not see alice's presence.
func TestEphemeralAndUserDataWithMautrix(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		ctx := t.Context()
		alice, bob := mautrixUser(t, s, "alice"), mautrixUser(t, s, "bob")
		room := mautrixSharedRoom(t, alice, bob, "Ephemeral")
		// Alice comes online first, so bob's polls below wake only for
		// what each step does.
		if _, err := alice.FullSyncRequest(ctx, mautrix.ReqSync{}); err != nil {
			t.Fatalf("alice's sync: %v", err)
		}
		p := &poller{t: t, cli: bob}
		p.since = p.sync(0).NextBatch

		p.after(func() {
			if _, err := alice.UserTyping(ctx, room, true, 20*time.Second); err != nil {
				t.Errorf("UserTyping: %v", err)
			}
		}, func(r *mautrix.RespSync) bool {
			return slices.Contains(typers(t, r, room), alice.UserID)
		})

		sent, err := bob.SendText(ctx, room, "read me")
		if err != nil {
			t.Fatalf("SendText: %v", err)
		}
		p.after(func() {
			if err := alice.SendReceipt(ctx, room, sent.EventID, event.ReceiptTypeRead, struct{}{}); err != nil {
				t.Errorf("SendReceipt: %v", err)
			}
		}, func(r *mautrix.RespSync) bool { return readBy(t, r, room, sent.EventID, alice.UserID) })

		p.after(func() {
			if err := alice.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceUnavailable, StatusMsg: "lunch"}); err != nil {
				t.Errorf("SetPresence: %v", err)
			}
		}, func(r *mautrix.RespSync) bool {
			c := presenceIn(t, r, alice.UserID)
			return c != nil && c.Presence == event.PresenceUnavailable && c.StatusMessage == "lunch"
		})
		got, err := bob.GetPresence(ctx, alice.UserID)
		if err != nil || got.Presence != event.PresenceUnavailable || got.StatusMsg != "lunch" {
			t.Errorf("bob's GetPresence of alice: %+v %v", got, err)
		}

		checkAccountDataAndTags(t, alice, room)
		carol := newRoomUser(t, s, "carol")
		checkStranger(t, carol, alice.UserID)
		checkEphemeralErrors(t, s, alice, carol, room, sent.EventID)
	})
}

// poller long-polls /sync for one user.
type poller struct {
	t     *testing.T
	cli   *mautrix.Client
	since string
}

func (p *poller) sync(timeout int) *mautrix.RespSync {
	p.t.Helper()
	resp, err := p.cli.FullSyncRequest(p.t.Context(), mautrix.ReqSync{Since: p.since, Timeout: timeout, SetPresence: event.PresenceOffline})
	if err != nil {
		p.t.Fatalf("sync: %v", err)
	}
	return resp
}

// after runs act while a long-poll waits, then polls until seen holds for
// a response (other news may wake the poll first), within 20 seconds.
func (p *poller) after(act func(), seen func(*mautrix.RespSync) bool) {
	p.t.Helper()
	go func() {
		time.Sleep(300 * time.Millisecond) // let the poll start waiting
		act()
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r := p.sync(20000)
		p.since = r.NextBatch
		if seen(r) {
			return
		}
	}
	p.t.Fatal("the long-poll never delivered the change")
}

func contentOf(t *testing.T, ev *event.Event, into any) {
	t.Helper()
	if err := json.Unmarshal(ev.Content.VeryRaw, into); err != nil {
		t.Fatalf("%s content: %v", ev.Type.Type, err)
	}
}

func typers(t *testing.T, r *mautrix.RespSync, room id.RoomID) []id.UserID {
	jr := r.Rooms.Join[room]
	if jr == nil {
		return nil
	}
	for _, ev := range jr.Ephemeral.Events {
		if ev.Type.Type == "m.typing" {
			var c event.TypingEventContent
			contentOf(t, ev, &c)
			return c.UserIDs
		}
	}
	return nil
}

func readBy(t *testing.T, r *mautrix.RespSync, room id.RoomID, eventID id.EventID, user id.UserID) bool {
	jr := r.Rooms.Join[room]
	if jr == nil {
		return false
	}
	for _, ev := range jr.Ephemeral.Events {
		if ev.Type.Type != "m.receipt" {
			continue
		}
		var c map[id.EventID]map[string]map[id.UserID]json.RawMessage
		contentOf(t, ev, &c)
		if _, ok := c[eventID]["m.read"][user]; ok {
			return true
		}
	}
	return false
}

func presenceIn(t *testing.T, r *mautrix.RespSync, user id.UserID) *event.PresenceEventContent {
	for _, ev := range r.Presence.Events {
		if ev.Type.Type == "m.presence" && ev.Sender == user {
			var c event.PresenceEventContent
			contentOf(t, ev, &c)
			return &c
		}
	}
	return nil
}

// checkAccountDataAndTags round-trips global and room account data and a
// tag, and finds them in alice's /sync.
func checkAccountDataAndTags(t *testing.T, alice *mautrix.Client, room id.RoomID) {
	t.Helper()
	ctx := t.Context()
	first, err := alice.FullSyncRequest(ctx, mautrix.ReqSync{})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.SetAccountData(ctx, "org.example.cfg", map[string]any{"theme": "dark"}); err != nil {
		t.Fatalf("SetAccountData: %v", err)
	}
	if err := alice.SetRoomAccountData(ctx, room, "org.example.room", map[string]any{"pinned": true}); err != nil {
		t.Fatalf("SetRoomAccountData: %v", err)
	}
	if err := alice.AddTag(ctx, room, event.RoomTagFavourite, 0.5); err != nil {
		t.Fatalf("AddTag: %v", err)
	}
	var cfg map[string]any
	if err := alice.GetAccountData(ctx, "org.example.cfg", &cfg); err != nil || cfg["theme"] != "dark" {
		t.Errorf("GetAccountData: %v %v", cfg, err)
	}
	var roomCfg map[string]any
	if err := alice.GetRoomAccountData(ctx, room, "org.example.room", &roomCfg); err != nil || roomCfg["pinned"] != true {
		t.Errorf("GetRoomAccountData: %v %v", roomCfg, err)
	}
	tags, err := alice.GetTags(ctx, room)
	if _, ok := tags.Tags[event.RoomTagFavourite]; err != nil || !ok {
		t.Errorf("GetTags: %+v %v", tags, err)
	}
	next, err := alice.FullSyncRequest(ctx, mautrix.ReqSync{Since: first.NextBatch})
	if err != nil {
		t.Fatal(err)
	}
	var global []string
	for _, ev := range next.AccountData.Events {
		global = append(global, ev.Type.Type)
	}
	var inRoom []string
	if jr := next.Rooms.Join[room]; jr != nil {
		for _, ev := range jr.AccountData.Events {
			inRoom = append(inRoom, ev.Type.Type)
		}
	}
	slices.Sort(inRoom)
	if !slices.Equal(global, []string{"org.example.cfg"}) || !slices.Equal(inRoom, []string{"m.tag", "org.example.room"}) {
		t.Errorf("incremental sync account data: global %v, room %v", global, inRoom)
	}
	if err := alice.RemoveTag(ctx, room, event.RoomTagFavourite); err != nil {
		t.Errorf("RemoveTag: %v", err)
	}
	if tags, err := alice.GetTags(ctx, room); err != nil || len(tags.Tags) != 0 {
		t.Errorf("tags after RemoveTag: %+v %v", tags, err)
	}
}

// checkStranger: carol shares no room with alice, so neither her sync nor
// GET /presence shows alice's presence.
func checkStranger(t *testing.T, carol roomUser, alice id.UserID) {
	t.Helper()
	resp := carol.ok("GET", "/sync", nil)
	pres, _ := resp["presence"].(map[string]any)
	evs, _ := pres["events"].([]any)
	for _, ev := range evs {
		if ev.(map[string]any)["sender"] == string(alice) {
			t.Errorf("a stranger's sync shows alice's presence: %v", ev)
		}
	}
	carol.wantErr(carol.do("GET", "/presence/"+url.PathEscape(string(alice))+"/status", nil), http.StatusForbidden, "M_FORBIDDEN")
}

// checkEphemeralErrors: the error cases of typing.yaml, receipts.yaml,
// read_markers.yaml, account-data.yaml and tags.yaml.
func checkEphemeralErrors(t *testing.T, s *harness.Server, alice *mautrix.Client, carol roomUser, room id.RoomID, eventID id.EventID) {
	t.Helper()
	a := roomUser{t: t, s: s, id: string(alice.UserID), token: alice.AccessToken}
	r, ev := string(room), url.PathEscape(string(eventID))
	aliceID, carolID := url.PathEscape(a.id), url.PathEscape(carol.id)
	cases := []struct {
		name    string
		who     roomUser
		method  string
		path    string
		body    any
		status  int
		errcode string
	}{
		{"typing for another user", a, "PUT", roomPath(r, "/typing/"+carolID), map[string]any{"typing": true}, 403, "M_FORBIDDEN"},
		{"typing outside the room", carol, "PUT", roomPath(r, "/typing/"+carolID), map[string]any{"typing": true}, 403, "M_FORBIDDEN"},
		{"typing bad JSON", a, "PUT", roomPath(r, "/typing/"+aliceID), json.RawMessage(`{"typing":1}`), 400, "M_BAD_JSON"},
		{"receipt outside the room", carol, "POST", roomPath(r, "/receipt/m.read/"+ev), map[string]any{}, 403, "M_FORBIDDEN"},
		{"unknown receipt type", a, "POST", roomPath(r, "/receipt/m.glanced/"+ev), map[string]any{}, 400, "M_INVALID_PARAM"},
		{"empty thread_id", a, "POST", roomPath(r, "/receipt/m.read/"+ev), map[string]any{"thread_id": ""}, 400, "M_INVALID_PARAM"},
		{"read markers outside the room", carol, "POST", roomPath(r, "/read_markers"), map[string]any{"m.fully_read": string(eventID)}, 403, "M_FORBIDDEN"},
		{"account data of another user", a, "PUT", "/user/" + carolID + "/account_data/x.y", map[string]any{}, 403, "M_FORBIDDEN"},
		{"account data not an object", a, "PUT", "/user/" + aliceID + "/account_data/x.y", json.RawMessage(`[]`), 400, "M_NOT_JSON"},
		{"server-managed account data", a, "PUT", "/user/" + aliceID + "/account_data/m.push_rules", map[string]any{}, 405, "M_BAD_JSON"},
		{"missing account data", a, "GET", "/user/" + aliceID + "/account_data/never.set", nil, 404, "M_NOT_FOUND"},
		{"tag order out of range", a, "PUT", "/user/" + aliceID + "/rooms/" + url.PathEscape(r) + "/tags/u.x", map[string]any{"order": 1.5}, 400, "M_INVALID_PARAM"},
		{"tags of another user", a, "GET", "/user/" + carolID + "/rooms/" + url.PathEscape(r) + "/tags", nil, 403, "M_FORBIDDEN"},
		{"presence of another user", a, "PUT", "/presence/" + carolID + "/status", map[string]any{"presence": "online"}, 403, "M_FORBIDDEN"},
		{"unknown presence", a, "PUT", "/presence/" + aliceID + "/status", map[string]any{"presence": "away"}, 400, "M_INVALID_PARAM"},
		{"no token", roomUser{t: t, s: s}, "PUT", roomPath(r, "/typing/"+aliceID), map[string]any{"typing": true}, 401, "M_MISSING_TOKEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.who.t = t
			tc.who.wantErr(tc.who.do(tc.method, tc.path, tc.body), tc.status, tc.errcode)
		})
	}
}

// TestUserDataSurvivesRestart: account data, receipts and the last
// presence state are stored, and a sync token from before a restart
// resumes the account data stream where it was, not from the start.
func TestUserDataSurvivesRestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"invite": []string{bob.id}})
		bob.ok("POST", "/join/"+url.PathEscape(roomID), map[string]any{})
		eventID := bob.send(roomID, "t1", "read before the restart")
		adPath := func(typ string) string { return "/user/" + url.PathEscape(alice.id) + "/account_data/" + typ }
		alice.ok("PUT", adPath("org.example.before"), map[string]any{"n": 1})
		alice.ok("POST", roomPath(roomID, "/receipt/m.read/"+url.PathEscape(eventID)), map[string]any{})
		alice.ok("PUT", "/presence/"+url.PathEscape(alice.id)+"/status", map[string]any{"presence": "unavailable", "status_msg": "away"})
		since := str(alice.ok("GET", "/sync?set_presence=offline", nil), "next_batch")

		s.Restart()
		alice, bob = relogin(t, s, alice), relogin(t, s, bob)
		alice.ok("PUT", adPath("org.example.after"), map[string]any{"n": 2})
		resp := alice.ok("GET", "/sync?set_presence=offline&since="+url.QueryEscape(since), nil)
		var types []string
		for _, ev := range resp["account_data"].(map[string]any)["events"].([]any) {
			types = append(types, ev.(map[string]any)["type"].(string))
		}
		if !slices.Equal(types, []string{"org.example.after"}) {
			t.Errorf("account data since a token of before the restart: %v", types)
		}
		if got := alice.ok("GET", adPath("org.example.before"), nil); got["n"] != 1.0 {
			t.Errorf("account data after the restart: %v", got)
		}
		pres := bob.ok("GET", "/presence/"+url.PathEscape(alice.id)+"/status", nil)
		if pres["presence"] != "unavailable" || pres["status_msg"] != "away" {
			t.Errorf("presence after the restart: %v", pres)
		}
		room := syncRoom(bob.ok("GET", "/sync?set_presence=offline", nil), "join", roomID)
		receipts := mustMarshal(room["ephemeral"])
		if !strings.Contains(receipts, eventID) || !strings.Contains(receipts, alice.id) {
			t.Errorf("bob's initial sync after the restart lacks alice's receipt: %s", receipts)
		}
	})
}
