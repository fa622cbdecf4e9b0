package clientapi

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// memPushRules keeps push rules in memory, standing in for account data.
type memPushRules struct {
	mu    sync.Mutex
	rules map[string][]byte
}

func (m *memPushRules) loadPushRules(_ context.Context, userID string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rules[userID], nil
}

func (m *memPushRules) savePushRules(_ context.Context, userID string, content []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rules[userID] = content
	return nil
}

func newPushEnv(t *testing.T) *syncEnv {
	return newSyncEnvWith(t, func(a *API) { a.pushRuleStore = &memPushRules{rules: map[string][]byte{}} })
}

func TestPushRulesEndpoints(t *testing.T) {
	e := newPushEnv(t)
	tok := e.aliceToken
	all := e.do("GET", "/_matrix/client/v3/pushrules/", nil, tok).want(t, http.StatusOK, "")
	global := all.body["global"].(map[string]any)
	if over := global["override"].([]any); over[0].(map[string]any)["rule_id"] != ".m.rule.master" {
		t.Fatalf("defaults: %v", over[0])
	}
	base := "/_matrix/client/v3/pushrules/global/"
	e.do("PUT", base+"content/cake", map[string]any{"pattern": "cake", "actions": []any{"notify"}}, tok).want(t, http.StatusOK, "")
	e.do("PUT", base+"content/lie?before=cake", map[string]any{"pattern": "cake*lie", "actions": []any{"notify"}}, tok).want(t, http.StatusOK, "")
	content := e.do("GET", base, nil, tok).want(t, http.StatusOK, "").body["content"].([]any)
	if len(content) != 2 || content[0].(map[string]any)["rule_id"] != "lie" {
		t.Errorf("content rules %v", content)
	}
	rule := e.do("GET", base+"content/cake", nil, tok).want(t, http.StatusOK, "")
	if rule.body["pattern"] != "cake" || rule.body["enabled"] != true || rule.body["default"] != false {
		t.Errorf("rule %v", rule.body)
	}
	e.do("PUT", base+"content/cake/enabled", map[string]any{"enabled": false}, tok).want(t, http.StatusOK, "")
	if got := e.do("GET", base+"content/cake/enabled", nil, tok).want(t, http.StatusOK, ""); got.body["enabled"] != false {
		t.Errorf("enabled %v", got.body)
	}
	e.do("PUT", base+"underride/.m.rule.message/actions", map[string]any{"actions": []any{}}, tok).want(t, http.StatusOK, "")
	if got := e.do("GET", base+"underride/.m.rule.message/actions", nil, tok).want(t, http.StatusOK, ""); len(got.body["actions"].([]any)) != 0 {
		t.Errorf("actions %v", got.body)
	}
	e.do("DELETE", base+"content/cake", nil, tok).want(t, http.StatusOK, "")
	e.do("GET", base+"content/cake", nil, tok).want(t, http.StatusNotFound, "M_NOT_FOUND")
	// Error paths of pushrules.yaml.
	e.do("DELETE", base+"content/cake", nil, tok).want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.do("PUT", base+"content/x?after=nope", map[string]any{"pattern": "x", "actions": []any{}}, tok).want(t, http.StatusBadRequest, "M_UNKNOWN")
	e.do("PUT", base+"override/.m.rule.mine", map[string]any{"actions": []any{}}, tok).want(t, http.StatusBadRequest, "M_UNKNOWN")
	e.do("PUT", base+"override/x", map[string]any{"conditions": []any{}}, tok).want(t, http.StatusBadRequest, "M_UNKNOWN")
	e.do("GET", base+"sideways/x", nil, tok).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("PUT", base+"content/x/enabled", map[string]any{"enabled": true}, tok).want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.do("PUT", base+"content/lie/enabled", map[string]any{}, tok).want(t, http.StatusBadRequest, "M_MISSING_PARAM")
	e.do("DELETE", base+"override/.m.rule.master", nil, tok).want(t, http.StatusBadRequest, "M_UNKNOWN")
	e.do("GET", base, nil, "").want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
	// Another user's rules are their own.
	if c := e.do("GET", base, nil, e.bobToken).want(t, http.StatusOK, "").body["content"].([]any); len(c) != 0 {
		t.Errorf("bob sees alice's rules: %v", c)
	}
}

func unread(r testResponse, roomID string) (notify, highlight float64) {
	room := section(r, "join", roomID)
	counts, _ := room["unread_notifications"].(map[string]any)
	n, _ := counts["notification_count"].(float64)
	h, _ := counts["highlight_count"].(float64)
	return n, h
}

func TestUnreadCountsFollowMessagesMentionsAndOwnSends(t *testing.T) {
	e := newPushEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	e.message(room, e.bob, "hello")
	e.send(room, e.bob, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "alice!",
		"m.mentions": map[string]any{"user_ids": []string{e.alice}}})
	e.send(room, e.bob, "m.room.message", nil, map[string]any{"msgtype": "m.notice", "body": "a bot says"})

	first := e.sync(e.aliceToken, nil)
	if n, h := unread(first, room); n != 2 || h != 1 {
		t.Fatalf("alice's counts %v/%v, want 2 notifications, 1 highlight", n, h)
	}
	if n, _ := unread(e.sync(e.bobToken, nil), room); n != 0 {
		t.Errorf("bob's own messages counted for him: %v", n)
	}
	// Alice replies: sending marks her notifications read.
	e.message(room, e.alice, "hi bob")
	next := e.sync(e.aliceToken, url.Values{"since": {first.str("next_batch")}})
	if n, h := unread(next, room); n != 0 || h != 0 {
		t.Errorf("after alice sent, counts %v/%v", n, h)
	}
}

func TestUnreadCountsPerThreadWhenAsked(t *testing.T) {
	e := newPushEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	root := e.message(room, e.bob, "root")
	e.send(room, e.bob, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "in thread",
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": root}})
	filter := url.Values{"filter": {`{"room":{"timeline":{"unread_thread_notifications":true}}}`}}
	r := e.sync(e.aliceToken, filter)
	if n, _ := unread(r, room); n != 1 {
		t.Errorf("main timeline count %v, want 1", n)
	}
	threads, _ := section(r, "join", room)["unread_thread_notifications"].(map[string]any)
	if c, _ := threads[root].(map[string]any); c == nil || c["notification_count"] != float64(1) {
		t.Errorf("thread counts %v", threads)
	}
	if n, _ := unread(e.sync(e.aliceToken, nil), room); n != 2 {
		t.Errorf("without the filter option the counts are summed: %v", n)
	}
}

func TestUnreadTrackerMarksAndReloads(t *testing.T) {
	e := newPushEnv(t)
	ctx := t.Context()
	tr := newTestTracker(e.db)
	act := func(pos int64, thread string, hl bool) storage.PushNotification {
		n := unreadNote(pos, hl, "@u:x")
		n.ThreadID = thread
		return n
	}
	tr.add([]storage.PushNotification{act(1, "main", false), act(2, "main", true), act(3, "$t", false), act(4, "main", false)})
	tr.markRead("@u:x", "!r:x", "", 2) // a receipt in the middle
	want := map[roomThread][2]int{{"!r:x", "main"}: {1, 0}, {"!r:x", "$t"}: {1, 0}}
	wantTracked(t, tr, want)
	if err := tr.flush(ctx); err != nil {
		t.Fatal(err)
	}
	wantTracked(t, newTestTracker(e.db), want) // as after a restart
	tr.markRead("@u:x", "!r:x", "$t", 10)      // a threaded receipt
	wantTracked(t, tr, map[roomThread][2]int{{"!r:x", "main"}: {1, 0}})
	// A notification below a mark (its event landed after the receipt
	// that passed it) is read, in memory as in the database.
	tr.add([]storage.PushNotification{act(9, "$t", false), act(5, "main", false)})
	tr.markRead("@u:x", "!r:x", "", 1) // lower than the mark: no change
	want = map[roomThread][2]int{{"!r:x", "main"}: {2, 0}}
	wantTracked(t, tr, want)
	if err := tr.flush(ctx); err != nil {
		t.Fatal(err)
	}
	wantTracked(t, newTestTracker(e.db), want)
}

// TestUnreadCountsReloadFromTheUsersRooms: after a restart a user's
// counts are read back from the rooms they are joined and invited to.
func TestUnreadCountsReloadFromTheUsersRooms(t *testing.T) {
	e := newPushEnv(t)
	joined := e.createRoom(e.alice, e.bob)
	e.membership(joined, e.bob, "join")
	e.message(joined, e.bob, "one")
	e.send(joined, e.bob, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "two",
		"m.mentions": map[string]any{"user_ids": []string{e.alice}}})
	invitedTo := e.createRoom(e.bob, e.alice)
	if err := e.api.unread.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[roomThread][2]int{{joined, "main"}: {2, 1}, {invitedTo, "main"}: {1, 0}}
	wantTrackedFor(t, e.api.unread, e.alice, want)
	wantTrackedFor(t, newUnreadTracker(e.db, e.api.unreadRooms), e.alice, want)
}

func wantTracked(t *testing.T, tr *unreadTracker, want map[roomThread][2]int) {
	t.Helper()
	wantTrackedFor(t, tr, "@u:x", want)
}

func wantTrackedFor(t *testing.T, tr *unreadTracker, userID string, want map[roomThread][2]int) {
	t.Helper()
	got, err := tr.counts(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: counts %v, want %v", userID, got, want)
	}
	for k, w := range want {
		if c := got[k]; c.Notify != w[0] || c.Highlight != w[1] {
			t.Errorf("%s: %v: %+v, want %v", userID, k, c, w)
		}
	}
}

func TestNotificationsList(t *testing.T) {
	e := newPushEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	e.message(room, e.bob, "one")
	e.send(room, e.bob, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "two",
		"m.mentions": map[string]any{"user_ids": []string{e.alice}}})
	e.message(room, e.bob, "three")
	list := e.do("GET", "/_matrix/client/v3/notifications?limit=2", nil, e.aliceToken).want(t, http.StatusOK, "")
	items := list.body["notifications"].([]any)
	if len(items) != 2 || list.str("next_token") == "" {
		t.Fatalf("page %v", list.body)
	}
	first := items[0].(map[string]any)
	if first["event"].(map[string]any)["content"].(map[string]any)["body"] != "three" || first["room_id"] != room || first["read"] != false {
		t.Errorf("newest first: %v", first)
	}
	rest := e.do("GET", "/_matrix/client/v3/notifications?from="+list.str("next_token"), nil, e.aliceToken).want(t, http.StatusOK, "")
	if got := rest.body["notifications"].([]any); len(got) != 1 {
		t.Errorf("second page %v", got)
	}
	hl := e.do("GET", "/_matrix/client/v3/notifications?only=highlight", nil, e.aliceToken).want(t, http.StatusOK, "")
	if got := hl.body["notifications"].([]any); len(got) != 1 {
		t.Errorf("highlights %v", got)
	}
	e.do("GET", "/_matrix/client/v3/notifications?from=abc", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("GET", "/_matrix/client/v3/notifications?only=all", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
}

// TestNotificationsListEveryRoomOfTheUser: the list covers rooms the user
// is invited to (the invite notified them) and rooms they left.
func TestNotificationsListEveryRoomOfTheUser(t *testing.T) {
	e := newPushEnv(t)
	left := e.createRoom(e.alice, e.bob)
	e.membership(left, e.bob, "join")
	e.message(left, e.bob, "before leaving")
	e.membership(left, e.alice, "leave")
	invitedTo := e.createRoom(e.bob, e.alice)
	list := e.do("GET", "/_matrix/client/v3/notifications", nil, e.aliceToken).want(t, http.StatusOK, "")
	items := list.body["notifications"].([]any)
	if len(items) != 2 {
		t.Fatalf("notifications %v", items)
	}
	if first := items[0].(map[string]any); first["room_id"] != invitedTo || first["event"].(map[string]any)["type"] != "m.room.member" {
		t.Errorf("newest: %v", first)
	}
	// Her leave, an event she sent, marked it read.
	if second := items[1].(map[string]any); second["room_id"] != left || second["read"] != true {
		t.Errorf("in the room left: %v", second)
	}
	if _, ok := list.body["next_token"]; ok {
		t.Errorf("next_token on the last page: %v", list.body["next_token"])
	}
}

func TestPushersSetListDelete(t *testing.T) {
	e := newPushEnv(t)
	p := map[string]any{"app_id": "im.app", "pushkey": "k1", "kind": "http", "app_display_name": "App",
		"device_display_name": "Phone", "lang": "en", "data": map[string]any{"url": "https://gw.example/_matrix/push/v1/notify"}}
	e.do("POST", "/_matrix/client/v3/pushers/set", p, e.aliceToken).want(t, http.StatusOK, "")
	list := e.do("GET", "/_matrix/client/v3/pushers", nil, e.aliceToken).want(t, http.StatusOK, "").body["pushers"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["pushkey"] != "k1" || list[0].(map[string]any)["kind"] != "http" {
		t.Fatalf("pushers %v", list)
	}
	bad := map[string]map[string]any{
		"M_INVALID_PARAM": {"kind": "carrier-pigeon"},
		"M_MISSING_PARAM": {"lang": ""},
	}
	for code, change := range bad {
		body := map[string]any{}
		for k, v := range p {
			body[k] = v
		}
		for k, v := range change {
			body[k] = v
		}
		e.do("POST", "/_matrix/client/v3/pushers/set", body, e.aliceToken).want(t, http.StatusBadRequest, code)
	}
	plainHTTP := map[string]any{}
	for k, v := range p {
		plainHTTP[k] = v
	}
	plainHTTP["data"] = map[string]any{"url": "http://gw.example/_matrix/push/v1/notify"}
	e.do("POST", "/_matrix/client/v3/pushers/set", plainHTTP, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("POST", "/_matrix/client/v3/pushers/set", map[string]any{"app_id": "im.app", "pushkey": "k1", "kind": nil}, e.aliceToken).want(t, http.StatusOK, "")
	if list := e.do("GET", "/_matrix/client/v3/pushers", nil, e.aliceToken).want(t, http.StatusOK, "").body["pushers"].([]any); len(list) != 0 {
		t.Errorf("after delete %v", list)
	}
}

// TestInitialSyncCarriesPushRules: clients read their rules from the
// m.push_rules account data event, which an initial sync always carries,
// defaults included; an edit reaches the next incremental sync.
func TestInitialSyncCarriesPushRules(t *testing.T) {
	e := newSyncEnv(t) // rules in account data, as the server stores them
	first := e.sync(e.aliceToken, nil)
	rules := globalAccountData(first, pushRulesType)
	if rules == nil || rules["global"] == nil {
		t.Fatalf("initial sync lacks m.push_rules: %v", first.body["account_data"])
	}
	e.do("PUT", "/_matrix/client/v3/pushrules/global/content/cake", map[string]any{"pattern": "cake", "actions": []any{"notify"}}, e.aliceToken).want(t, http.StatusOK, "")
	next := e.sync(e.aliceToken, url.Values{"since": {first.str("next_batch")}})
	edited := globalAccountData(next, pushRulesType)
	content, _ := edited["global"].(map[string]any)["content"].([]any)
	if len(content) != 1 {
		t.Errorf("the edited rules did not reach the incremental sync: %v", edited)
	}
}

func globalAccountData(r testResponse, typ string) map[string]any {
	ad, _ := r.body["account_data"].(map[string]any)
	evs, _ := ad["events"].([]any)
	for _, ev := range evs {
		if m := ev.(map[string]any); m["type"] == typ {
			c, _ := m["content"].(map[string]any)
			return c
		}
	}
	return nil
}

// TestReadReceiptClearsUnreadCounts: a receipt (public or private) clears
// the notifications up to its event, not those after it.
func TestReadReceiptClearsUnreadCounts(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	first := e.message(room, e.bob, "one")
	e.message(room, e.bob, "two")
	if n, _ := unread(e.sync(e.aliceToken, nil), room); n != 2 {
		t.Fatalf("count %v, want 2", n)
	}
	e.do("POST", "/_matrix/client/v3/rooms/"+room+"/receipt/m.read.private/"+first, map[string]any{}, e.aliceToken).want(t, http.StatusOK, "")
	if n, _ := unread(e.sync(e.aliceToken, nil), room); n != 1 {
		t.Errorf("after a private receipt at the first message: %v, want 1", n)
	}
}
