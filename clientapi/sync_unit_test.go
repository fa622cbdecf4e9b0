package clientapi

import (
	"context"
	"testing"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

func TestSyncTokenRoundTrip(t *testing.T) {
	for _, pos := range []int64{0, 1, 123, 1 << 53} {
		tok := syncToken{Events: pos}
		got, err := parseSyncToken(tok.String())
		if err != nil || got != tok {
			t.Errorf("%d: got %v, %v", pos, got, err)
		}
	}
}

func TestSyncTokenSkipsUnknownStreams(t *testing.T) {
	got, err := parseSyncToken("s42_t7_x9_r3")
	want := syncToken{Events: 42}
	want.Streams[streamTyping], want.Streams[streamReceipts] = 7, 3
	if err != nil || got != want {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestSyncTokenRoundTripsEveryStream(t *testing.T) {
	tok := syncToken{Events: 9}
	for id := range numStreams {
		tok.Streams[id] = int64(id) * 1000
	}
	got, err := parseSyncToken(tok.String())
	if err != nil || got != tok {
		t.Errorf("%s: got %v, %v", tok, got, err)
	}
	if s := (syncToken{Events: 5}).String(); s != "s5" {
		t.Errorf("streams at 0 must not lengthen the token: %q", s)
	}
}

func TestSyncTokenRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "42", "s", "s-1", "sx", "t5", "s99999999999999999999", "s1_t-2", "s1_rx"} {
		if _, err := parseSyncToken(s); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
}

func TestMatchesPattern(t *testing.T) {
	cases := []struct {
		p, v string
		want bool
	}{
		{"m.room.message", "m.room.message", true},
		{"m.room.message", "m.room.member", false},
		{"m.room.*", "m.room.member", true},
		{"m.*", "org.x", false},
		{"*", "anything", true},
		{"m.*.member", "m.room.member", true},
		{"m.*.member", "m.room.name", false},
		{"*.member", "m.room.member", true},
	}
	for _, c := range cases {
		if got := matchesPattern(c.p, c.v, true); got != c.want {
			t.Errorf("%q ~ %q = %v", c.p, c.v, got)
		}
	}
	if matchesPattern("!a*", "!abc", false) {
		t.Error("room IDs take no wildcards")
	}
}

func TestRoomEventFilterAllows(t *testing.T) {
	types := []string{"m.room.*"}
	f := &roomEventFilter{Types: &types, NotTypes: []string{"m.room.member"}, NotSenders: []string{"@spam:x"}}
	cases := []struct {
		sender, typ string
		want        bool
	}{
		{"@a:x", "m.room.message", true},
		{"@a:x", "m.room.member", false}, // not_types wins
		{"@a:x", "org.custom", false},
		{"@spam:x", "m.room.message", false},
	}
	for _, c := range cases {
		if got := f.allows("!r:x", c.sender, c.typ); got != c.want {
			t.Errorf("%s %s: %v", c.sender, c.typ, got)
		}
	}
	var none *roomEventFilter
	if !none.allows("!r:x", "@a:x", "x") {
		t.Error("a nil filter lets everything through")
	}
}

func TestFilterLimits(t *testing.T) {
	f, err := parseFilter([]byte(`{"room":{"timeline":{"limit":5000}}}`))
	if err != nil || f.timelineLimit() != maxTimelineLimit {
		t.Errorf("got %d, %v", f.timelineLimit(), err)
	}
	if f, _ := parseFilter([]byte(`{}`)); f.timelineLimit() != defaultTimelineLimit {
		t.Errorf("default: %d", f.timelineLimit())
	}
	if _, err := parseFilter([]byte(`{"room":{"timeline":{"limit":-1}}}`)); err == nil {
		t.Error("negative limit accepted")
	}
	if _, err := parseFilter([]byte(`{"room":{"rooms":"!notalist"}}`)); err == nil {
		t.Error("bad rooms accepted")
	}
}

// persisted fakes a committed event for the notifier.
func persisted(t *testing.T, stream int64, typ string, stateKey *string) roomserver.PersistedEvent {
	t.Helper()
	return roomserver.PersistedEvent{Event: testPDU(t, typ, stateKey), Stream: stream}
}

func waitAsync(n *notifier, user string, rooms []string, since int64, timeout time.Duration) chan bool {
	done := make(chan bool, 1)
	go func() {
		woken, _ := n.wait(context.Background(), user, rooms, syncToken{Events: since}, timeout)
		done <- woken
	}()
	return done
}

// waitersOf reports how many waiters user has, for tests to know a
// waiter is registered before they commit.
func (n *notifier) waitersOf(user string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.byUser[user])
}

func untilRegistered(t *testing.T, n *notifier, user string) {
	t.Helper()
	for i := 0; n.waitersOf(user) == 0; i++ {
		if i > 2000 {
			t.Fatal("waiter never registered")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNotifierWakesFollowersOfTheRoom(t *testing.T) {
	n := newNotifier()
	done := waitAsync(n, "@a:x", []string{"!r:x"}, 0, time.Minute)
	other := waitAsync(n, "@b:x", []string{"!other:x"}, 0, 50*time.Millisecond)
	untilRegistered(t, n, "@a:x")
	untilRegistered(t, n, "@b:x")
	n.OnNewEvents("!r:x", []roomserver.PersistedEvent{persisted(t, 1, "m.room.message", nil)})
	if !<-done {
		t.Error("follower of the room not woken")
	}
	if <-other {
		t.Error("follower of another room woken")
	}
	if n.Latest() != 1 {
		t.Errorf("latest %d", n.Latest())
	}
}

func TestNotifierWakesTheMemberOfAMemberEvent(t *testing.T) {
	n := newNotifier()
	done := waitAsync(n, "@b:x", nil, 0, time.Minute)
	untilRegistered(t, n, "@b:x")
	bob := "@b:x"
	n.OnNewEvents("!new:x", []roomserver.PersistedEvent{persisted(t, 1, "m.room.member", &bob)})
	if !<-done {
		t.Error("invitee not woken by their member event")
	}
}

func TestNotifierSeesEventsCommittedBeforeTheWait(t *testing.T) {
	n := newNotifier()
	n.OnNewEvents("!r:x", []roomserver.PersistedEvent{persisted(t, 5, "m.room.message", nil)})
	woken, err := n.wait(t.Context(), "@a:x", []string{"!r:x"}, syncToken{Events: 4}, time.Minute)
	if err != nil || !woken {
		t.Errorf("missed a commit between read and wait: %v %v", woken, err)
	}
	woken, _ = n.wait(t.Context(), "@a:x", []string{"!r:x"}, syncToken{Events: 5}, 10*time.Millisecond)
	if woken {
		t.Error("woken by an event already answered")
	}
}

func TestNotifierSkipsEventsSyncNeverShows(t *testing.T) {
	n := newNotifier()
	rejected := persisted(t, 1, "m.room.message", nil)
	rejected.Rejected = "no"
	soft := persisted(t, 2, "m.room.message", nil)
	soft.SoftFailed = true
	backfilled := persisted(t, -3, "m.room.message", nil)
	n.OnNewEvents("!r:x", []roomserver.PersistedEvent{rejected, soft, backfilled})
	if woken, _ := n.wait(t.Context(), "@a:x", []string{"!r:x"}, syncToken{Events: 0}, 10*time.Millisecond); woken {
		t.Error("woken by an event sync never shows")
	}
}

func TestNotifierCloseWakesAndStaysClosed(t *testing.T) {
	n := newNotifier()
	done := waitAsync(n, "@a:x", []string{"!r:x"}, 0, time.Minute)
	untilRegistered(t, n, "@a:x")
	n.Close()
	select {
	case woken := <-done:
		if woken {
			t.Error("close reported as news")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not wake the waiter")
	}
	start := time.Now()
	n.wait(t.Context(), "@a:x", nil, syncToken{Events: 0}, time.Minute)
	if time.Since(start) > 10*time.Second {
		t.Error("wait after close blocked")
	}
}

func TestNotifierContextCancelEndsWait(t *testing.T) {
	n := newNotifier()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { untilRegistered(t, n, "@a:x"); cancel() }()
	woken, err := n.wait(ctx, "@a:x", nil, syncToken{Events: 0}, time.Minute)
	if woken || err != nil {
		t.Errorf("got %v %v", woken, err)
	}
	if n.waitersOf("@a:x") != 0 {
		t.Error("waiter left registered")
	}
}

func TestNotifierBoundsWaitersPerUser(t *testing.T) {
	n := newNotifier()
	for range maxWaitersPerUser {
		waitAsync(n, "@a:x", nil, 0, time.Minute)
	}
	for n.waitersOf("@a:x") < maxWaitersPerUser {
		time.Sleep(time.Millisecond)
	}
	if _, err := n.wait(t.Context(), "@a:x", nil, syncToken{Events: 0}, time.Minute); err != errTooManyWaiters {
		t.Errorf("got %v", err)
	}
	n.Close()
}

func TestNotifierRingOverflowWakesConservatively(t *testing.T) {
	n := newNotifier()
	for i := int64(1); i <= noticeRingSize+1; i++ {
		n.OnNewEvents("!busy:x", []roomserver.PersistedEvent{persisted(t, i, "m.room.message", nil)})
	}
	if woken, _ := n.wait(t.Context(), "@a:x", []string{"!quiet:x"}, syncToken{Events: 0}, time.Minute); !woken {
		t.Error("a waiter older than the ring must re-read")
	}
}

// testPDU is a syntactically valid room version 10 event; the notifier
// reads only its type and state key.
func testPDU(t *testing.T, typ string, stateKey *string) *mxcore.PDU {
	t.Helper()
	ver, _ := mxcore.GetRoomVersion("10")
	sk := ""
	if stateKey != nil {
		sk = `,"state_key":"` + *stateKey + `"`
	}
	raw := `{"room_id":"!r:x","type":"` + typ + `","sender":"@a:x","content":{}` + sk +
		`,"depth":1,"origin_server_ts":1,"hashes":{"sha256":"abc"},"signatures":{"x":{"ed25519:1":"sig"}},"prev_events":[],"auth_events":[]}`
	pdu, err := mxcore.NewPDU([]byte(raw), ver)
	if err != nil {
		t.Fatal(err)
	}
	return pdu
}

func TestNotifierWakesOnOtherStreams(t *testing.T) {
	cases := []struct {
		name     string
		nt       notice
		wantWake bool
	}{
		{"typing in a followed room", notice{stream: streamTyping, pos: 1, roomID: "!r:x"}, true},
		{"typing in another room", notice{stream: streamTyping, pos: 1, roomID: "!other:x"}, false},
		{"to-device for the user", notice{stream: streamToDevice, pos: 1, user: "@a:x"}, true},
		{"to-device for someone else", notice{stream: streamToDevice, pos: 1, user: "@b:x"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newNotifier()
			timeout := time.Minute
			if !c.wantWake {
				timeout = 50 * time.Millisecond
			}
			done := waitAsync(n, "@a:x", []string{"!r:x"}, 0, timeout)
			untilRegistered(t, n, "@a:x")
			n.notify(c.nt)
			if got := <-done; got != c.wantWake {
				t.Errorf("woken = %v", got)
			}
		})
	}
}

func TestNotifierSeesStreamNoticesBeforeTheWait(t *testing.T) {
	n := newNotifier()
	n.notify(notice{stream: streamReceipts, pos: 3, roomID: "!r:x"})
	since := syncToken{}
	since.Streams[streamReceipts] = 2
	if woken, _ := n.wait(t.Context(), "@a:x", []string{"!r:x"}, since, time.Minute); !woken {
		t.Error("missed a receipt between read and wait")
	}
	since.Streams[streamReceipts] = 3
	if woken, _ := n.wait(t.Context(), "@a:x", []string{"!r:x"}, since, 10*time.Millisecond); woken {
		t.Error("woken by a receipt already answered")
	}
}
