package sytest

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/sytest/harness"
)

// deliveryTimeout bounds how long a message may take to reach another
// server's /sync. It is generous on purpose: this is a correctness test on
// a shared machine.
const deliveryTimeout = 90 * time.Second

// wideTimeline asks /sync for enough of each timeline that a catch-up
// after a stop is not cut short (limited) by the default page.
var wideTimeline = url.QueryEscape(`{"room":{"timeline":{"limit":100}}}`)

// TestFederatedRoomScenario: three servers on loopback, over TLS with the
// test CA, share one room created on A. Every user's messages reach the
// other two servers' long-polling /sync; C, stopped while A and B talk,
// catches up on every message after its restart, in order; and B refuses
// a transaction whose request signature is forged, and stores a PDU whose
// content does not match its hash only redacted, with the room still
// working afterwards. Last, A's admin denies C's host in the room's
// server ACL, and A and B take no more messages from C.
func TestFederatedRoomScenario(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		started := time.Now()
		a, b := startFederating(t, backend), startFederating(t, backend)
		// C on a loopback address of its own: server ACLs ignore ports.
		c := harness.Start(t, harness.Options{Backend: backend, Federation: true, SharedCA: true, Host: deniedHost})
		alice, bob, carol := newRoomUser(t, a, "alice"), newRoomUser(t, b, "bob"), newRoomUser(t, c, "carol")
		roomID := alice.createRoom(map[string]any{"preset": "public_chat", "name": "three servers"})
		for _, u := range []roomUser{bob, carol} {
			u.ok("POST", "/join/"+url.PathEscape(roomID)+"?via="+url.QueryEscape(a.Name), map[string]any{})
		}
		users := []*syncedUser{{roomUser: alice}, {roomUser: bob}, {roomUser: carol}}
		for _, u := range users {
			u.since = syncToken(t, u.ok("GET", "/sync?timeout=0", nil))
		}
		// Every server must know all three joins before the messages go out.
		for _, u := range users {
			for _, other := range users {
				waitMember(t, u.roomUser, roomID, other.id)
			}
		}

		t.Run("messages reach every server", func(t *testing.T) {
			bindTo(t, users)
			for i, from := range users {
				body := fmt.Sprintf("hello from %s", from.id)
				from.send(roomID, fmt.Sprintf("hello-%d", i), body)
				for _, to := range users {
					if to != from {
						to.await(t, roomID, body)
					}
				}
			}
		})
		t.Run("a stopped server catches up", func(t *testing.T) {
			bindTo(t, users)
			checkCatchUp(t, c, users, roomID)
		})
		t.Run("forged transactions change nothing", func(t *testing.T) {
			bindTo(t, users)
			checkForgedTransactions(t, a, b, users, roomID)
		})
		t.Run("a server ACL keeps a denied server out", func(t *testing.T) {
			bindTo(t, users)
			checkServerACL(t, users, roomID)
		})
		t.Logf("scenario on %s took %v", backend, time.Since(started).Round(time.Millisecond))
	})
}

// downtime is how long C stays stopped after A and B have talked.
const downtime = 7 * time.Second

// deniedHost is the loopback address C runs on, the one the server ACL
// denies.
const deniedHost = "127.0.0.2"

// aclSettle is how long A and B must keep refusing a denied server's
// message: long enough for several deliveries, since one from an allowed
// server arrives in well under a second here.
const aclSettle = 3 * time.Second

// checkServerACL: once A's admin has denied C's host and every server has
// the ACL, carol's message on C does not reach A or B, while A and B go on
// talking.
func checkServerACL(t *testing.T, users []*syncedUser, roomID string) {
	alice, bob, carol := users[0], users[1], users[2]
	acl := map[string]any{"allow": []string{"*"}, "deny": []string{deniedHost}, "allow_ip_literals": true}
	alice.ok("PUT", roomPath(roomID, "/state/m.room.server_acl"), acl)
	for _, u := range []roomUser{bob.roomUser, carol.roomUser} {
		waitStateEvent(t, u, roomID, "m.room.server_acl")
	}
	resp := carol.do("PUT", roomPath(roomID, "/send/m.room.message/denied"), map[string]any{"msgtype": "m.text", "body": "from a denied server"})
	if resp.Status != http.StatusOK {
		return // C refusing it itself keeps it out as well
	}
	deniedID := str(resp.JSON(t), "event_id")
	alice.send(roomID, "after-acl", "after the ACL")
	bob.await(t, roomID, "after the ACL")
	for end := time.Now().Add(aclSettle); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		for _, u := range []roomUser{alice.roomUser, bob.roomUser} {
			if slices.Contains(roomHistory(u, roomID), "from a denied server") {
				t.Fatalf("%s's server shows the message of the denied server", u.id)
			}
			u.wantErr(u.do("GET", roomPath(roomID, "/event/"+url.PathEscape(deniedID)), nil), http.StatusNotFound, "M_NOT_FOUND")
		}
	}
}

// waitStateEvent waits until u's server has the room's state event of
// type typ (state key "").
func waitStateEvent(t *testing.T, u roomUser, roomID, typ string) {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for u.do("GET", roomPath(roomID, "/state/"+typ), nil).Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("%s's server lacks the room's %s after %v", u.id, typ, deliveryTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncedUser is a room user with a /sync position and the message bodies
// its syncs have delivered so far, in the order they came.
type syncedUser struct {
	roomUser
	since string
	seen  []string
}

// bindTo makes the users' requests report to t, the subtest running
// them: a failure must stop the goroutine of the test that failed.
func bindTo(t *testing.T, users []*syncedUser) {
	for _, u := range users {
		u.t = t
	}
}

// await long-polls /sync until every body has arrived in the room's
// timeline, or fails at deliveryTimeout.
func (u *syncedUser) await(t *testing.T, roomID string, bodies ...string) {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for !u.hasSeen(bodies) {
		if time.Now().After(deadline) {
			t.Fatalf("%s's /sync did not deliver %q within %v; it has %q", u.id, bodies, deliveryTimeout, u.seen)
		}
		resp := u.ok("GET", "/sync?timeout=10000&filter="+wideTimeline+"&since="+url.QueryEscape(u.since), nil)
		u.since = syncToken(t, resp)
		u.seen = append(u.seen, syncBodies(syncRoom(resp, "join", roomID))...)
	}
}

func (u *syncedUser) hasSeen(bodies []string) bool {
	for _, b := range bodies {
		if !slices.Contains(u.seen, b) {
			return false
		}
	}
	return true
}

// waitMember waits until u's server has userID joined to the room.
func waitMember(t *testing.T, u roomUser, roomID, userID string) {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for memberOf(t, u, roomID, userID) != "join" {
		if time.Now().After(deadline) {
			t.Fatalf("%s's server does not have %s joined within %v", u.id, userID, deliveryTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkCatchUp stops C, has A's and B's users talk (each message seen by
// the other before the next goes out, so their order is causal), restarts
// C and wants every message on C: in /sync once each, and in /messages
// in the order they were sent; then C's user is heard on A and B again.
func checkCatchUp(t *testing.T, c *harness.Server, users []*syncedUser, roomID string) {
	alice, bob, carol := users[0], users[1], users[2]
	c.Stop()
	var sent []string
	for i := range 3 {
		for _, pair := range [][2]*syncedUser{{alice, bob}, {bob, alice}} {
			body := fmt.Sprintf("while C was away %d from %s", i, pair[0].id)
			pair[0].send(roomID, fmt.Sprintf("away-%d", i), body)
			pair[1].await(t, roomID, body)
			sent = append(sent, body)
		}
	}
	// Down long enough for A and B to fail several times and back off
	// (2 s, 4 s, …): catching up must not depend on a lucky first retry.
	time.Sleep(downtime)
	c.Launch()
	carol.await(t, roomID, sent...)

	var missed []string
	for _, body := range carol.seen {
		if strings.HasPrefix(body, "while C was away") {
			missed = append(missed, body)
		}
	}
	if len(missed) != len(sent) {
		t.Errorf("C's /sync delivered %q, want each of %q once", missed, sent)
	}
	// /messages is in the room's (topological) order.
	page := messages(carol.roomUser, roomID, "b", "", 50, "")
	history := chunkBodies(page)
	slices.Reverse(history)
	var got []string
	for _, body := range history {
		if strings.HasPrefix(body, "while C was away") {
			got = append(got, body)
		}
	}
	if !slices.Equal(got, sent) {
		t.Errorf("C's /messages has %q, want %q in this order", got, sent)
	}
	// And C, back, is heard again.
	carol.send(roomID, "back", "C is back")
	alice.await(t, roomID, "C is back")
	bob.await(t, roomID, "C is back")
}

// checkForgedTransactions plays server A towards B with A's signing key:
// a transaction with a valid PDU but a forged request signature is
// refused with 401 and stores nothing; a PDU whose content was changed
// after A hashed it, in a correctly signed transaction, is refused or
// stored redacted, never with the changed content; the room goes on
// working, and the first PDU, now sent with a true signature, is taken.
func checkForgedTransactions(t *testing.T, a, b *harness.Server, users []*syncedUser, roomID string) {
	alice, bob := users[0], users[1]
	fed := harness.FederationHTTPClient(t)
	forger := pduForger{t: t, fed: fed, origin: a, target: b, roomID: roomID, sender: alice.id, reader: bob.roomUser}
	forger.keyID, forger.priv = readSigningKey(t, a)
	before := roomHistory(bob.roomUser, roomID)

	genuineID, genuine := forger.message("sent with a forged request signature", false)
	path := "/_matrix/federation/v1/send/forged-sig"
	txn := forger.transaction(genuine)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	forged := xMatrix(t, "PUT", path, a.Name, b.Name, txn, forger.keyID, otherKey)
	want(t, sendFed(t, fed, b, "PUT", path, txn, forged), http.StatusUnauthorized, "M_UNAUTHORIZED")
	if after := roomHistory(bob.roomUser, roomID); !slices.Equal(after, before) {
		t.Errorf("B's room changed after a forged request: %q, was %q", after, before)
	}

	tamperedID, tampered := forger.message("what A hashed", true)
	answer := forger.send("bad-hash", tampered)
	if result := pduResultOf(answer, tamperedID); result != nil && result["error"] == nil {
		// Accepted: then only redacted, as the spec's hash check says.
		ev := bob.ok("GET", roomPath(roomID, "/event/"+url.PathEscape(tamperedID)), nil)
		if content, _ := ev["content"].(map[string]any); len(content) != 0 {
			t.Errorf("a PDU with a bad content hash was stored with content %v", content)
		}
	}
	for _, body := range roomHistory(bob.roomUser, roomID) {
		if strings.Contains(body, "tampered") || body == "what A hashed" {
			t.Errorf("B's room shows the tampered PDU's content %q", body)
		}
	}

	// The room still works both ways, and the PDU refused for its
	// request signature alone is accepted with a true one.
	alice.send(roomID, "after-forgery", "after the forgeries")
	bob.await(t, roomID, "after the forgeries")
	bob.send(roomID, "after-forgery-reply", "reply after the forgeries")
	alice.await(t, roomID, "reply after the forgeries")
	if result := pduResultOf(forger.send("true-sig", genuine), genuineID); result == nil || result["error"] != nil {
		t.Errorf("the genuine PDU, truly signed, was not accepted: %v", result)
	}
	if history := roomHistory(bob.roomUser, roomID); !slices.Contains(history, "sent with a forged request signature") {
		t.Errorf("B's room lacks the genuine PDU after the true send: %q", history)
	}
}

// roomHistory is the message bodies of the room's last 100 events on u's
// server, oldest first.
func roomHistory(u roomUser, roomID string) []string {
	bodies := chunkBodies(messages(u, roomID, "b", "", 100, ""))
	slices.Reverse(bodies)
	return bodies
}

// pduResultOf is the per-PDU result of a /send answer.
func pduResultOf(body map[string]any, eventID string) map[string]any {
	pdus, _ := body["pdus"].(map[string]any)
	result, _ := pdus[eventID].(map[string]any)
	return result
}

// pduForger builds room events as the origin server would, signed with
// its key, for sending to target over federation.
type pduForger struct {
	t              *testing.T
	fed            *http.Client
	origin, target *harness.Server
	roomID, sender string
	reader         roomUser // a joined user of target
	keyID          string
	priv           ed25519.PrivateKey
}

// message builds an m.room.message of sender on top of the room's latest
// event on target. With tamper, the content is changed after hashing and
// before signing: the signature (over the redacted event) holds, the
// content hash does not.
func (f pduForger) message(body string, tamper bool) (string, []byte) {
	t := f.t
	t.Helper()
	ver, ok := mxcore.GetRoomVersion(mxcore.DefaultRoomVersion)
	if !ok {
		t.Fatal("no default room version")
	}
	prevID, prevDepth := f.latestEvent()
	event := map[string]any{
		"room_id": f.roomID, "sender": f.sender, "type": "m.room.message",
		"content":          map[string]any{"msgtype": "m.text", "body": body},
		"origin_server_ts": time.Now().UnixMilli(), "depth": prevDepth + 1,
		"prev_events": []string{prevID}, "auth_events": f.authEvents(),
	}
	raw, _ := json.Marshal(event)
	raw, err := mxcore.AddContentHash(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tamper {
		var hashed map[string]any
		_ = json.Unmarshal(raw, &hashed)
		hashed["content"] = map[string]any{"msgtype": "m.text", "body": "tampered " + body}
		raw, _ = json.Marshal(hashed)
	}
	signed, err := mxcore.SignEvent(raw, f.origin.Name, f.keyID, f.priv, ver)
	if err != nil {
		t.Fatal(err)
	}
	id, err := mxcore.EventIDFor(signed, ver)
	if err != nil {
		t.Fatal(err)
	}
	return id, signed
}

// latestEvent is the ID and depth of the room's newest event on target,
// the depth read over federation as the origin.
func (f pduForger) latestEvent() (string, int64) {
	f.t.Helper()
	page := f.reader.ok("GET", roomPath(f.roomID, "/messages?dir=b&limit=1"), nil)
	chunk, _ := page["chunk"].([]any)
	if len(chunk) != 1 {
		f.t.Fatalf("no latest event: %v", page)
	}
	id := str(chunk[0].(map[string]any), "event_id")
	path := "/_matrix/federation/v1/event/" + url.PathEscape(id)
	resp := sendFed(f.t, f.fed, f.target, "GET", path, nil, xMatrix(f.t, "GET", path, f.origin.Name, f.target.Name, nil, f.keyID, f.priv))
	pdus, _ := want(f.t, resp, http.StatusOK, "")["pdus"].([]any)
	if len(pdus) != 1 {
		f.t.Fatalf("/event answered %s", resp.Body)
	}
	depth, _ := pdus[0].(map[string]any)["depth"].(float64)
	return id, int64(depth)
}

// authEvents are the events that authorise a message in a version 12
// room: the power levels and the sender's membership (the create event
// is implied by the room ID), as target's state has them.
func (f pduForger) authEvents() []string {
	f.t.Helper()
	var state []map[string]any
	resp := f.reader.do("GET", roomPath(f.roomID, "/state"), nil)
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &state) != nil {
		f.t.Fatalf("/state answered %d %s", resp.Status, resp.Body)
	}
	var ids []string
	for _, ev := range state {
		if (ev["type"] == "m.room.power_levels" && ev["state_key"] == "") || (ev["type"] == "m.room.member" && ev["state_key"] == f.sender) {
			ids = append(ids, str(ev, "event_id"))
		}
	}
	if len(ids) != 2 {
		f.t.Fatalf("auth events %v from state %v", ids, state)
	}
	return ids
}

// transaction wraps PDUs in a /send body from the origin.
func (f pduForger) transaction(pdus ...[]byte) []byte {
	list := make([]json.RawMessage, len(pdus))
	for i, p := range pdus {
		list[i] = p
	}
	raw, _ := json.Marshal(map[string]any{
		"origin": f.origin.Name, "origin_server_ts": time.Now().UnixMilli(), "pdus": list,
	})
	return raw
}

// send puts the PDUs to target in a transaction truly signed by the
// origin and returns the answer, which must be 200.
func (f pduForger) send(txnID string, pdus ...[]byte) map[string]any {
	f.t.Helper()
	path := "/_matrix/federation/v1/send/" + txnID
	body := f.transaction(pdus...)
	auth := xMatrix(f.t, "PUT", path, f.origin.Name, f.target.Name, body, f.keyID, f.priv)
	return want(f.t, sendFed(f.t, f.fed, f.target, "PUT", path, body, auth), http.StatusOK, "")
}
