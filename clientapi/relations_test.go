package clientapi

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/warbler-im/warbler/roomserver"
)

// newRelEnv is a sync test API whose roomserver stamps events with the
// test clock, so tests choose origin_server_ts (edits are ordered by it).
func newRelEnv(t *testing.T) *syncEnv {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	e := newTestEnv(t, func(a *API) {
		rs, err := roomserver.New(a.Store.(roomserver.Store), roomserver.Config{ServerName: testServer, KeyID: "ed25519:t", PrivateKey: priv, Now: a.Now})
		if err != nil {
			t.Fatal(err)
		}
		a.Rooms = rs
	})
	se := &syncEnv{testEnv: e}
	se.alice, se.bob = e.createUser("alice", "pw-alice-1", false), e.createUser("bob", "pw-bob-1", false)
	se.aliceToken = e.login("alice", "pw-alice-1", nil).str("access_token")
	se.bobToken = e.login("bob", "pw-bob-1", nil).str("access_token")
	return se
}

func relatesTo(relType, parent string) map[string]any {
	return map[string]any{"rel_type": relType, "event_id": parent}
}

// edit sends an m.replace of parent.
func (e *syncEnv) edit(roomID, sender, typ, parent, body string) string {
	return e.send(roomID, sender, typ, nil, map[string]any{
		"msgtype": "m.text", "body": "* " + body,
		"m.new_content": map[string]any{"msgtype": "m.text", "body": body},
		"m.relates_to":  relatesTo("m.replace", parent),
	})
}

func (e *syncEnv) threadReply(roomID, sender, root, body string) string {
	return e.send(roomID, sender, "m.room.message", nil, map[string]any{
		"msgtype": "m.text", "body": body, "m.relates_to": relatesTo("m.thread", root),
	})
}

func (e *syncEnv) redactEvent(roomID, sender, target string) {
	e.t.Helper()
	_, err := e.api.Rooms.SendEvent(e.t.Context(), roomserver.EventRequest{
		RoomID: roomID, Sender: sender, Type: "m.room.redaction", Content: json.RawMessage(`{}`), Redacts: target,
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// relationsOf fetches /event/{id} as the user and returns its
// unsigned.m.relations (nil if none).
func (e *syncEnv) relationsOf(token, roomID, eventID string) map[string]any {
	e.t.Helper()
	resp := e.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/event/"+url.PathEscape(eventID), nil, token).want(e.t, http.StatusOK, "")
	unsigned, _ := resp.body["unsigned"].(map[string]any)
	rels, _ := unsigned["m.relations"].(map[string]any)
	return rels
}

func replaceID(rels map[string]any) string {
	r, _ := rels["m.replace"].(map[string]any)
	id, _ := r["event_id"].(string)
	return id
}

// TestReplaceAggregationRules checks which edit, if any, is bundled as
// m.replace: the spec's validity rules and its ordering.
func TestReplaceAggregationRules(t *testing.T) {
	tests := []struct {
		name string
		// run sends the events; it returns the event to look at and the
		// edit expected in its m.replace ("" for none).
		run func(e *syncEnv, room string) (target, want string)
	}{
		{"latest edit wins", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			e.clock.advance(time.Second)
			e.edit(room, e.alice, "m.room.message", root, "one")
			e.clock.advance(time.Second)
			latest := e.edit(room, e.alice, "m.room.message", root, "two")
			return root, latest
		}},
		{"latest by origin_server_ts, not by arrival", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			e.clock.advance(2 * time.Second)
			later := e.edit(room, e.alice, "m.room.message", root, "later clock")
			e.clock.advance(-time.Second)
			e.edit(room, e.alice, "m.room.message", root, "earlier clock")
			return root, later
		}},
		{"equal timestamps: largest event ID", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			a := e.edit(room, e.alice, "m.room.message", root, "a")
			b := e.edit(room, e.alice, "m.room.message", root, "b")
			return root, max(a, b)
		}},
		{"edit by another sender ignored", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			e.clock.advance(time.Second)
			mine := e.edit(room, e.alice, "m.room.message", root, "mine")
			e.clock.advance(time.Second)
			e.edit(room, e.bob, "m.room.message", root, "not yours")
			return root, mine
		}},
		{"edit of another type ignored", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			e.edit(room, e.alice, "org.example.other", root, "x")
			return root, ""
		}},
		{"edit without m.new_content ignored", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			e.send(room, e.alice, "m.room.message", nil, map[string]any{"body": "x", "m.relates_to": relatesTo("m.replace", root)})
			return root, ""
		}},
		{"edit of an edit ignored", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			first := e.edit(room, e.alice, "m.room.message", root, "one")
			e.edit(room, e.alice, "m.room.message", first, "edit of the edit")
			return first, ""
		}},
		{"redacted edit drops to the one before", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			e.clock.advance(time.Second)
			older := e.edit(room, e.alice, "m.room.message", root, "one")
			e.clock.advance(time.Second)
			newer := e.edit(room, e.alice, "m.room.message", root, "two")
			e.redactEvent(room, e.alice, newer)
			return root, older
		}},
		{"redacted original bundles no edit", func(e *syncEnv, room string) (string, string) {
			root := e.message(room, e.alice, "root")
			e.edit(room, e.alice, "m.room.message", root, "one")
			e.redactEvent(room, e.alice, root)
			return root, ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newRelEnv(t)
			room := e.createRoom(e.alice, e.bob)
			e.membership(room, e.bob, "join")
			target, want := tc.run(e, room)
			rels := e.relationsOf(e.bobToken, room, target)
			if got := replaceID(rels); got != want {
				t.Errorf("m.replace = %q, want %q (m.relations %v)", got, want, rels)
			}
		})
	}
}

func TestThreadAndReferenceAggregations(t *testing.T) {
	e := newRelEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	root := e.message(room, e.alice, "root")
	e.threadReply(room, e.bob, root, "one")
	latest := e.threadReply(room, e.bob, root, "two")
	latestEdit := e.edit(room, e.bob, "m.room.message", latest, "two, edited")
	ref := e.send(room, e.bob, "m.room.message", nil, map[string]any{"body": "see", "m.relates_to": relatesTo("m.reference", root)})

	rels := e.relationsOf(e.aliceToken, room, root)
	thread, _ := rels["m.thread"].(map[string]any)
	if thread["count"] != float64(2) || thread["current_user_participated"] != true {
		t.Errorf("m.thread for the root's sender = %v", thread)
	}
	latestEv, _ := thread["latest_event"].(map[string]any)
	if latestEv["event_id"] != latest {
		t.Errorf("latest_event %v, want %s", latestEv["event_id"], latest)
	}
	// The latest event carries its own aggregation: its edit.
	unsigned, _ := latestEv["unsigned"].(map[string]any)
	if got := replaceID(unsigned["m.relations"].(map[string]any)); got != latestEdit {
		t.Errorf("latest_event's m.replace %q, want %q", got, latestEdit)
	}
	refs, _ := rels["m.reference"].(map[string]any)
	if chunk, _ := refs["chunk"].([]any); len(chunk) != 1 || chunk[0].(map[string]any)["event_id"] != ref {
		t.Errorf("m.reference = %v", refs)
	}

	// Redacting the thread's latest event moves latest_event back.
	e.redactEvent(room, e.bob, latest)
	thread, _ = e.relationsOf(e.aliceToken, room, root)["m.thread"].(map[string]any)
	if thread["count"] != float64(1) || thread["latest_event"].(map[string]any)["event_id"] == latest {
		t.Errorf("m.thread after redacting the latest = %v", thread)
	}
}

func TestSyncAndMessagesBundleAggregations(t *testing.T) {
	e := newRelEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	root := e.message(room, e.alice, "root")
	edit := e.edit(room, e.alice, "m.room.message", root, "root, edited")
	e.threadReply(room, e.bob, root, "reply")

	timeline := eventsAt(section(e.sync(e.bobToken, nil), "join", room), "timeline")
	var rootEv map[string]any
	for _, ev := range timeline {
		if ev["event_id"] == root {
			rootEv = ev
		}
	}
	if rootEv == nil {
		t.Fatalf("root not in the sync timeline")
	}
	rels := rootEv["unsigned"].(map[string]any)["m.relations"].(map[string]any)
	if replaceID(rels) != edit || rels["m.thread"].(map[string]any)["current_user_participated"] != true {
		t.Errorf("sync m.relations %v", rels)
	}
	msgs := e.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/messages?dir=b&limit=5", nil, e.bobToken).want(t, http.StatusOK, "")
	found := false
	for _, ev := range msgs.body["chunk"].([]any) {
		m := ev.(map[string]any)
		if m["event_id"] == root {
			found = true
			rels := m["unsigned"].(map[string]any)["m.relations"].(map[string]any)
			if replaceID(rels) != edit {
				t.Errorf("/messages m.relations %v", rels)
			}
		}
	}
	if !found {
		t.Error("root not in /messages")
	}
}

func relPath(room, rest string) string {
	return "/_matrix/client/v1/rooms/" + url.PathEscape(room) + rest
}

func chunkIDs(t *testing.T, r testResponse) []string {
	t.Helper()
	list, _ := r.body["chunk"].([]any)
	out := []string{}
	for _, ev := range list {
		out = append(out, ev.(map[string]any)["event_id"].(string))
	}
	return out
}

func TestRelationsEndpoint(t *testing.T) {
	e := newRelEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	root := e.message(room, e.alice, "root")
	var replies []string
	for _, b := range []string{"1", "2", "3"} {
		replies = append(replies, e.threadReply(room, e.bob, root, b))
	}
	edit := e.edit(room, e.alice, "m.room.message", root, "edited")
	replyEdit := e.edit(room, e.bob, "m.room.message", replies[2], "3 edited")
	base := relPath(room, "/relations/"+url.PathEscape(root))

	all := e.do("GET", base, nil, e.aliceToken).want(t, http.StatusOK, "")
	wantIDs(t, "all", chunkIDs(t, all), edit, replies[2], replies[1], replies[0])
	if _, has := all.body["recursion_depth"]; has {
		t.Error("recursion_depth without recurse")
	}
	rec := e.do("GET", base+"?recurse=true", nil, e.aliceToken).want(t, http.StatusOK, "")
	wantIDs(t, "recursive", chunkIDs(t, rec), replyEdit, edit, replies[2], replies[1], replies[0])
	if rec.body["recursion_depth"] != float64(3) {
		t.Errorf("recursion_depth %v", rec.body["recursion_depth"])
	}
	wantIDs(t, "m.replace", chunkIDs(t, e.do("GET", base+"/m.replace", nil, e.aliceToken).want(t, http.StatusOK, "")), edit)
	wantIDs(t, "m.thread m.room.message", chunkIDs(t, e.do("GET", base+"/m.thread/m.room.message", nil, e.aliceToken).want(t, http.StatusOK, "")),
		replies[2], replies[1], replies[0])
	wantIDs(t, "m.thread m.reaction", chunkIDs(t, e.do("GET", base+"/m.thread/m.reaction", nil, e.aliceToken).want(t, http.StatusOK, "")))

	// Pages of two backwards, following next_batch; then forwards.
	first := e.do("GET", base+"/m.thread?limit=2", nil, e.aliceToken).want(t, http.StatusOK, "")
	wantIDs(t, "page 1", chunkIDs(t, first), replies[2], replies[1])
	if _, has := first.body["prev_batch"]; has {
		t.Error("first page has prev_batch")
	}
	next := first.str("next_batch")
	second := e.do("GET", base+"/m.thread?limit=2&from="+url.QueryEscape(next), nil, e.aliceToken).want(t, http.StatusOK, "")
	wantIDs(t, "page 2", chunkIDs(t, second), replies[0])
	if second.str("prev_batch") != next || second.str("next_batch") != "" {
		t.Errorf("page 2 tokens %v", second.body)
	}
	fwd := e.do("GET", base+"/m.thread?dir=f&limit=2", nil, e.aliceToken).want(t, http.StatusOK, "")
	wantIDs(t, "forwards", chunkIDs(t, fwd), replies[0], replies[1])
	// from page 1 to page 2's start covers page 1's range only.
	between := e.do("GET", base+"/m.thread?from="+url.QueryEscape(next)+"&to="+url.QueryEscape(second.str("prev_batch")), nil, e.aliceToken).want(t, http.StatusOK, "")
	wantIDs(t, "from == to", chunkIDs(t, between))

	// Errors.
	e.createUser("carol", "pw-carol-1", false)
	carolToken := e.login("carol", "pw-carol-1", nil).str("access_token")
	e.do("GET", base, nil, carolToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.do("GET", relPath(room, "/relations/%24nope"), nil, e.aliceToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.do("GET", base+"?dir=x", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("GET", base+"?recurse=maybe", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("GET", base+"?from=zzz", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("GET", base, nil, "").want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: got %v, want %v", what, got, want)
			return
		}
	}
}

func TestThreadsEndpoint(t *testing.T) {
	e := newRelEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	a := e.message(room, e.alice, "thread a")
	b := e.message(room, e.bob, "thread b")
	c := e.message(room, e.bob, "thread c")
	e.message(room, e.alice, "no thread")
	e.threadReply(room, e.bob, a, "a1")
	e.threadReply(room, e.bob, c, "c1")
	e.threadReply(room, e.bob, b, "b1") // b has the latest activity

	base := relPath(room, "/threads")
	wantIDs(t, "all", chunkIDs(t, e.do("GET", base, nil, e.aliceToken).want(t, http.StatusOK, "")), b, c, a)
	wantIDs(t, "alice participated", chunkIDs(t, e.do("GET", base+"?include=participated", nil, e.aliceToken).want(t, http.StatusOK, "")), a)
	first := e.do("GET", base+"?limit=2", nil, e.bobToken).want(t, http.StatusOK, "")
	wantIDs(t, "page 1", chunkIDs(t, first), b, c)
	second := e.do("GET", base+"?limit=2&from="+url.QueryEscape(first.str("next_batch")), nil, e.bobToken).want(t, http.StatusOK, "")
	wantIDs(t, "page 2", chunkIDs(t, second), a)
	if second.str("next_batch") != "" {
		t.Errorf("last page has next_batch %q", second.str("next_batch"))
	}
	// Roots carry their aggregation.
	list := e.do("GET", base+"?limit=1", nil, e.aliceToken).want(t, http.StatusOK, "")
	ev := list.body["chunk"].([]any)[0].(map[string]any)
	if _, ok := ev["unsigned"].(map[string]any)["m.relations"].(map[string]any)["m.thread"]; !ok {
		t.Errorf("thread root without m.thread: %v", ev)
	}

	e.createUser("carol", "pw-carol-1", false)
	carolToken := e.login("carol", "pw-carol-1", nil).str("access_token")
	e.do("GET", base, nil, carolToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
	e.do("GET", base+"?include=mine", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("GET", base+"?limit=0", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("GET", base+"?from=bogus", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	e.do("GET", relPath("!unknown:example.org", "/threads"), nil, e.aliceToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
}

func TestThreadCannotStartFromARelation(t *testing.T) {
	e := newRelEnv(t)
	room := e.createRoom(e.alice)
	root := e.message(room, e.alice, "root")
	reply := e.threadReply(room, e.alice, root, "in the thread")
	send := func(txn, parent string) testResponse {
		body := map[string]any{"msgtype": "m.text", "body": "x", "m.relates_to": relatesTo("m.thread", parent)}
		return e.do("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/send/m.room.message/"+txn, body, e.aliceToken)
	}
	send("t1", reply).want(t, http.StatusBadRequest, "M_UNKNOWN")
	send("t2", root).want(t, http.StatusOK, "")
	send("t3", "$not-stored").want(t, http.StatusOK, "")
}

// A reference sent while bob was away (history visibility "joined") is
// hidden from him, so the root he may see does not list it.
func TestReferencesHiddenByHistoryVisibility(t *testing.T) {
	e := newRelEnv(t)
	room := e.createRoom(e.alice, e.bob)
	empty := ""
	e.send(room, e.alice, "m.room.history_visibility", &empty, map[string]string{"history_visibility": "joined"})
	e.membership(room, e.bob, "join")
	root := e.message(room, e.alice, "root")
	seen := e.send(room, e.alice, "m.room.message", nil, map[string]any{"body": "ref", "m.relates_to": relatesTo("m.reference", root)})
	e.membership(room, e.bob, "leave")
	hidden := e.send(room, e.alice, "m.room.message", nil, map[string]any{"body": "ref", "m.relates_to": relatesTo("m.reference", root)})
	e.send(room, e.alice, "m.room.member", &e.bob, map[string]string{"membership": "invite"})
	e.membership(room, e.bob, "join")

	chunkOf := func(token string) []string {
		refs, _ := e.relationsOf(token, room, root)["m.reference"].(map[string]any)
		list, _ := refs["chunk"].([]any)
		var ids []string
		for _, item := range list {
			ids = append(ids, item.(map[string]any)["event_id"].(string))
		}
		return ids
	}
	wantIDs(t, "alice's references", chunkOf(e.aliceToken), seen, hidden)
	wantIDs(t, "bob's references", chunkOf(e.bobToken), seen)
	// /relations leaves the hidden child out too.
	rels := e.do("GET", relPath(room, "/relations/"+url.PathEscape(root)), nil, e.bobToken).want(t, http.StatusOK, "")
	wantIDs(t, "bob's /relations", chunkIDs(t, rels), seen)
}
