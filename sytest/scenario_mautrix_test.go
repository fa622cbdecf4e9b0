package sytest

import (
	"context"
	"errors"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestMautrixChatScenario is one everyday conversation driven end to end
// with a real client library: sign up and log in, create a room, invite,
// join, talk (the other side hearing it through a long-polling /sync),
// reply, redact, give the room an alias that a third user joins by,
// read history with filters, /context, a lazy-loading sync, leave and
// log out. The other scenarios test each step's edge cases; this one
// checks that the steps hold together for a client.
func TestMautrixChatScenario(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		ctx := t.Context()
		alice, bob := mautrixSignUp(t, s, "alice"), mautrixSignUp(t, s, "bob")
		bobSince := mustSync(t, bob, mautrix.ReqSync{}).NextBatch

		created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Scenario", Preset: "public_chat"})
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		room := created.RoomID
		if _, err := alice.InviteUser(ctx, room, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
			t.Fatalf("InviteUser: %v", err)
		}
		_, bobSince = syncUntil(t, bob, bobSince, "bob's invite", func(r *mautrix.RespSync) bool {
			return r.Rooms.Invite[room] != nil
		})
		if _, err := bob.JoinRoomByID(ctx, room); err != nil {
			t.Fatalf("JoinRoomByID: %v", err)
		}
		_, bobSince = syncUntil(t, bob, bobSince, "bob's join", func(r *mautrix.RespSync) bool {
			return timelineEvent(r, room, "", "m.room.member", string(bob.UserID)) != nil
		})

		hello, bobSince := checkLongPollDelivery(t, alice, bob, room, bobSince)
		reply := checkReply(t, alice, bob, room, hello)
		bobSince = checkRedactionReachesSync(t, alice, bob, room, bobSince)

		carol := mautrixSignUp(t, s, "carol")
		checkAliasJoin(t, s, alice, carol, room)
		later := sendText(t, bob, room, "after carol came", nil)
		checkFilteredMessages(t, bob, room, alice.UserID, bob.UserID)
		checkContext(t, carol, room, reply, hello, later)
		checkLazyLoadingSync(t, alice, bob, room, carol.UserID)

		checkLeave(t, alice, bob, room, bobSince)
		if _, err := bob.Logout(ctx); err != nil {
			t.Fatalf("Logout: %v", err)
		}
		if _, err := bob.Whoami(ctx); !errors.Is(err, mautrix.MUnknownToken) {
			t.Errorf("Whoami after logout: %v, want M_UNKNOWN_TOKEN", err)
		}
		if _, err := bob.SyncRequest(ctx, 0, "", "", false, ""); !errors.Is(err, mautrix.MUnknownToken) {
			t.Errorf("sync after logout: %v, want M_UNKNOWN_TOKEN", err)
		}
	})
}

// mautrixSignUp registers through the API's dummy flow and then logs in
// on a fresh client, as a new user of an app does.
func mautrixSignUp(t *testing.T, s *harness.Server, localpart string) *mautrix.Client {
	t.Helper()
	ctx := t.Context()
	anon, err := mautrix.NewClient(s.ClientURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: localpart, Password: localpart + "-pw"}); err != nil {
		t.Fatalf("RegisterDummy %s: %v", localpart, err)
	}
	cli, err := mautrix.NewClient(s.ClientURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:         localpart + "-pw",
		StoreCredentials: true,
	})
	if err != nil {
		t.Fatalf("Login %s: %v", localpart, err)
	}
	return cli
}

func mustSync(t *testing.T, cli *mautrix.Client, req mautrix.ReqSync) *mautrix.RespSync {
	t.Helper()
	resp, err := cli.FullSyncRequest(t.Context(), req)
	if err != nil {
		t.Fatalf("sync of %s: %v", cli.UserID, err)
	}
	return resp
}

// pollTimeout is the long-poll timeout the scenario asks for. Every wait
// must end well before it: an answer at the timeout would mean the
// server polled instead of being woken.
const pollTimeout = 20 * time.Second

// syncUntil long-polls from since until done holds, and returns that
// answer and its next_batch. A poll may wake for something else first,
// so it retries, but all of it must happen well within one poll timeout.
func syncUntil(t *testing.T, cli *mautrix.Client, since, what string, done func(*mautrix.RespSync) bool) (*mautrix.RespSync, string) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < pollTimeout/2 {
		resp := mustSync(t, cli, mautrix.ReqSync{Since: since, Timeout: int(pollTimeout.Milliseconds())})
		since = resp.NextBatch
		if done(resp) {
			return resp, since
		}
	}
	t.Fatalf("%s: not seen by %s's long-poll within %v", what, cli.UserID, pollTimeout/2)
	return nil, ""
}

// timelineEvent finds an event in a joined room's timeline by ID, or by
// type and state key when eventID is "".
func timelineEvent(resp *mautrix.RespSync, room id.RoomID, eventID id.EventID, typ, stateKey string) *event.Event {
	joined := resp.Rooms.Join[room]
	if joined == nil {
		return nil
	}
	for _, ev := range joined.Timeline.Events {
		if eventID != "" && ev.ID == eventID ||
			eventID == "" && ev.Type.Type == typ && ev.StateKey != nil && *ev.StateKey == stateKey {
			return ev
		}
	}
	return nil
}

// checkLongPollDelivery: bob's long-poll is waiting when alice speaks,
// and returns with her message long before its timeout.
func checkLongPollDelivery(t *testing.T, alice, bob *mautrix.Client, room id.RoomID, since string) (id.EventID, string) {
	t.Helper()
	sent := make(chan id.EventID, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // let bob's poll start waiting
		resp, err := alice.SendMessageEvent(context.Background(), room, event.EventMessage,
			&event.MessageEventContent{MsgType: event.MsgText, Body: "hello bob"})
		if err != nil {
			t.Errorf("send: %v", err)
			sent <- ""
			return
		}
		sent <- resp.EventID
	}()
	var got *event.Event
	start := time.Now()
	_, since = syncUntil(t, bob, since, "alice's message", func(r *mautrix.RespSync) bool {
		joined := r.Rooms.Join[room]
		for _, ev := range joined.Timeline.Events {
			if ev.Type == event.EventMessage && ev.Sender == alice.UserID {
				got = ev
			}
		}
		return got != nil
	})
	hello := <-sent
	if got.ID != hello || got.Content.Raw["body"] != "hello bob" {
		t.Fatalf("bob received %s %v, want %s", got.ID, got.Content.Raw, hello)
	}
	t.Logf("delivered to a waiting long-poll in %v", time.Since(start))
	return hello, since
}

// checkReply: bob answers alice's message; the reply keeps its
// m.in_reply_to, as alice reads it back.
func checkReply(t *testing.T, alice, bob *mautrix.Client, room id.RoomID, to id.EventID) id.EventID {
	t.Helper()
	reply := sendText(t, bob, room, "hello alice", (&event.RelatesTo{}).SetReplyTo(to))
	got, err := alice.GetEvent(t.Context(), room, reply)
	if err != nil {
		t.Fatalf("GetEvent(reply): %v", err)
	}
	if err := got.Content.ParseRaw(got.Type); err != nil {
		t.Fatalf("reply content: %v", err)
	}
	if msg := got.Content.AsMessage(); msg.RelatesTo.GetReplyTo() != to || msg.Body != "hello alice" {
		t.Errorf("reply read back as %+v, want a reply to %s", msg, to)
	}
	return reply
}

// checkRedactionReachesSync: alice sends and retracts a message before
// bob's next sync; bob sees it redacted, with the redaction.
func checkRedactionReachesSync(t *testing.T, alice, bob *mautrix.Client, room id.RoomID, since string) string {
	t.Helper()
	oops := sendText(t, alice, room, "regrettable", nil)
	red, err := alice.RedactEvent(t.Context(), room, oops, mautrix.ReqRedact{Reason: "typo"})
	if err != nil {
		t.Fatalf("RedactEvent: %v", err)
	}
	var redacted *event.Event
	resp, since := syncUntil(t, bob, since, "the redaction", func(r *mautrix.RespSync) bool {
		redacted = timelineEvent(r, room, oops, "", "")
		return timelineEvent(r, room, red.EventID, "", "") != nil
	})
	if redaction := timelineEvent(resp, room, red.EventID, "", ""); redaction.Type != event.EventRedaction || redaction.Redacts != oops && redaction.Content.Raw["redacts"] != string(oops) {
		t.Errorf("redaction event: %+v", redaction)
	}
	if redacted == nil {
		t.Fatalf("the redacted message is missing from bob's sync")
	}
	if len(redacted.Content.Raw) != 0 || redacted.Unsigned.RedactedBecause == nil || redacted.Unsigned.RedactedBecause.ID != red.EventID {
		t.Errorf("bob's sync serves the message unredacted: content %v, unsigned %+v", redacted.Content.Raw, redacted.Unsigned)
	}
	return since
}

// checkAliasJoin: alice names the room; carol, not invited, resolves the
// alias and joins by it.
func checkAliasJoin(t *testing.T, s *harness.Server, alice, carol *mautrix.Client, room id.RoomID) {
	t.Helper()
	ctx := t.Context()
	alias := id.RoomAlias("#scenario:" + s.Name)
	if _, err := alice.CreateAlias(ctx, alias, room); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	resolved, err := carol.ResolveAlias(ctx, alias)
	if err != nil || resolved.RoomID != room || len(resolved.Servers) == 0 || resolved.Servers[0] != s.Name {
		t.Fatalf("ResolveAlias: %+v %v", resolved, err)
	}
	joined, err := carol.JoinRoom(ctx, string(alias), nil)
	if err != nil || joined.RoomID != room {
		t.Fatalf("JoinRoom by alias: %+v %v", joined, err)
	}
}

// checkFilteredMessages pages /messages with RoomEventFilters in both
// directions.
func checkFilteredMessages(t *testing.T, cli *mautrix.Client, room id.RoomID, aliceID, bobID id.UserID) {
	t.Helper()
	ctx := t.Context()
	texts := []event.Type{event.EventMessage}
	bobs, err := cli.Messages(ctx, room, "", "", mautrix.DirectionBackward, &mautrix.FilterPart{Types: texts, Senders: []id.UserID{bobID}}, 10)
	if err != nil {
		t.Fatalf("Messages backwards: %v", err)
	}
	if got := bodies(bobs.Chunk); len(got) != 2 || got[0] != "after carol came" || got[1] != "hello alice" {
		t.Errorf("bob's messages, newest first: %v", got)
	}
	alices, err := cli.Messages(ctx, room, "", "", mautrix.DirectionForward, &mautrix.FilterPart{Types: texts, Senders: []id.UserID{aliceID}}, 10)
	if err != nil {
		t.Fatalf("Messages forwards: %v", err)
	}
	// The redacted message has no body left.
	if got := bodies(alices.Chunk); len(got) != 2 || got[0] != "hello bob" || got[1] != "" {
		t.Errorf("alice's messages, oldest first: %v", got)
	}
	notTexts, err := cli.Messages(ctx, room, "", "", mautrix.DirectionForward,
		&mautrix.FilterPart{NotTypes: []event.Type{event.EventMessage, event.StateMember}}, 3)
	if err != nil {
		t.Fatalf("Messages with not_types: %v", err)
	}
	if len(notTexts.Chunk) != 3 || notTexts.Chunk[0].Type != event.StateCreate || notTexts.End == "" {
		t.Fatalf("first page without messages or members: %v (end %q)", eventTypes(notTexts.Chunk), notTexts.End)
	}
	for _, ev := range notTexts.Chunk {
		if ev.Type == event.EventMessage || ev.Type == event.StateMember {
			t.Errorf("not_types let %s through", ev.Type)
		}
	}
	// Paging on from the end token keeps the filter's promise.
	next, err := cli.Messages(ctx, room, notTexts.End, "", mautrix.DirectionForward,
		&mautrix.FilterPart{NotTypes: []event.Type{event.EventMessage, event.StateMember}}, 50)
	if err != nil {
		t.Fatalf("Messages second page: %v", err)
	}
	if types := eventTypes(next.Chunk); !containsType(types, event.EventRedaction) || containsType(types, event.EventMessage) || containsType(types, event.StateMember) {
		t.Errorf("second page: %v, want the redaction and no messages or members", types)
	}
}

func bodies(events []*event.Event) []string {
	var out []string
	for _, ev := range events {
		body, _ := ev.Content.Raw["body"].(string)
		out = append(out, body)
	}
	return out
}

func eventTypes(events []*event.Event) []event.Type {
	out := make([]event.Type, 0, len(events))
	for _, ev := range events {
		out = append(out, ev.Type)
	}
	return out
}

func containsType(types []event.Type, typ event.Type) bool {
	for _, x := range types {
		if x.Type == typ.Type {
			return true
		}
	}
	return false
}

// checkContext: carol, who joined later in a room with shared history,
// reads the conversation around bob's reply.
func checkContext(t *testing.T, carol *mautrix.Client, room id.RoomID, reply, before, after id.EventID) {
	t.Helper()
	around, err := carol.Context(t.Context(), room, reply, &mautrix.FilterPart{Types: []event.Type{event.EventMessage}}, 10)
	if err != nil {
		t.Fatalf("Context: %v", err)
	}
	if around.Event == nil || around.Event.ID != reply {
		t.Fatalf("Context event: %+v", around.Event)
	}
	if len(around.EventsBefore) == 0 || around.EventsBefore[0].ID != before {
		t.Errorf("events before the reply: %v, want %s first", eventIDs(around.EventsBefore), before)
	}
	if n := len(around.EventsAfter); n == 0 || around.EventsAfter[n-1].ID != after {
		t.Errorf("events after the reply: %v, want %s last", eventIDs(around.EventsAfter), after)
	}
	if around.Start == "" || around.End == "" {
		t.Errorf("Context tokens: start %q end %q", around.Start, around.End)
	}
}

func eventIDs(events []*event.Event) []id.EventID {
	out := make([]id.EventID, 0, len(events))
	for _, ev := range events {
		out = append(out, ev.ID)
	}
	return out
}

// checkLazyLoadingSync: an initial sync with a stored filter that lazy
// loads members and keeps the last two messages (bob's and alice's) in
// the timeline holds the member events of those senders, not carol's,
// who joined before them and said nothing.
func checkLazyLoadingSync(t *testing.T, alice, bob *mautrix.Client, room id.RoomID, silent id.UserID) {
	t.Helper()
	sendText(t, alice, room, "one more", nil)
	filter, err := bob.CreateFilter(t.Context(), &mautrix.Filter{Room: &mautrix.RoomFilter{
		Timeline: &mautrix.FilterPart{Limit: 2},
		State:    &mautrix.FilterPart{LazyLoadMembers: true},
	}})
	if err != nil {
		t.Fatalf("CreateFilter: %v", err)
	}
	resp := mustSync(t, bob, mautrix.ReqSync{FilterID: filter.FilterID})
	joined := resp.Rooms.Join[room]
	if joined == nil {
		t.Fatalf("room missing from the lazy-loading sync")
	}
	if got := bodies(joined.Timeline.Events); len(got) != 2 || got[0] != "after carol came" || got[1] != "one more" || !joined.Timeline.Limited {
		t.Fatalf("timeline %v (limited %v), want bob's and alice's last messages", got, joined.Timeline.Limited)
	}
	members := map[string]bool{}
	hasName := false
	for _, ev := range joined.State.Events {
		switch {
		case ev.Type == event.StateMember && ev.StateKey != nil:
			members[*ev.StateKey] = true
		case ev.Type == event.StateRoomName:
			hasName = true
		}
	}
	if !members[string(alice.UserID)] || !members[string(bob.UserID)] || members[string(silent)] {
		t.Errorf("lazy-loaded members %v: want alice and bob, not %s", members, silent)
	}
	if !hasName {
		t.Error("lazy loading dropped the room's other state")
	}
}

// checkLeave: bob leaves; alice's long-poll hears it, bob's next sync
// lists the room under leave, and it is gone from his joined rooms.
func checkLeave(t *testing.T, alice, bob *mautrix.Client, room id.RoomID, bobSince string) {
	t.Helper()
	ctx := t.Context()
	aliceSince := mustSync(t, alice, mautrix.ReqSync{}).NextBatch
	if _, err := bob.LeaveRoom(ctx, room); err != nil {
		t.Fatalf("LeaveRoom: %v", err)
	}
	syncUntil(t, alice, aliceSince, "bob's leave", func(r *mautrix.RespSync) bool {
		ev := timelineEvent(r, room, "", "m.room.member", string(bob.UserID))
		return ev != nil && ev.Content.Raw["membership"] == "leave"
	})
	syncUntil(t, bob, bobSince, "bob's own leave", func(r *mautrix.RespSync) bool {
		return r.Rooms.Leave[room] != nil && r.Rooms.Join[room] == nil
	})
	joined, err := bob.JoinedRooms(ctx)
	if err != nil || len(joined.JoinedRooms) != 0 {
		t.Errorf("JoinedRooms after leaving: %+v %v", joined, err)
	}
}
