package roomserver

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// A server cites at most 10 forward extremities, the newest, chosen the
// same way every time.
func TestBuildCapsPrevEvents(t *testing.T) {
	a, b, roomID := twoServers(t, memStores, "12")
	tip, _ := a.ForwardExtremities(ctxT(t), roomID)
	var forks []*mxcore.PDU
	for i := range 12 {
		msg := message(roomID, bob, fmt.Sprint("fork ", i))
		forks = append(forks, craft(t, b, a, roomID, msg, tip, authIDsNow(t, b, msg)))
	}
	deliver(t, a, roomID, KindLive, forks...)
	ex, _ := a.ForwardExtremities(ctxT(t), roomID)
	if len(ex) != 12 {
		t.Fatalf("%d extremities", len(ex))
	}
	ev := pdus(t, a, send(t, a, message(roomID, alice, "merge")))[0]
	if want := slices.Sorted(slices.Values(ex))[:10]; !slices.Equal(ev.PrevEventIDs(), want) {
		t.Errorf("prevs %v\nwant %v", ev.PrevEventIDs(), want)
	}
	if ev.Depth() != forks[0].Depth()+1 {
		t.Errorf("depth %d after prevs of depth %d", ev.Depth(), forks[0].Depth())
	}
	if ex, _ = a.ForwardExtremities(ctxT(t), roomID); len(ex) != 3 || ex[0] != ev.EventID() {
		t.Errorf("extremities after the merge %v", ex)
	}
}

// withDepth is ev with another depth, for the depth limit (signatures
// and hashes no longer match, which parsing does not check).
func withDepth(t *testing.T, ev *mxcore.PDU, depth int64) *mxcore.PDU {
	raw := strings.Replace(string(ev.JSON()), fmt.Sprintf(`"depth":%d`, ev.Depth()), fmt.Sprintf(`"depth":%d`, depth), 1)
	out, err := mxcore.NewPDU([]byte(raw), ev.Version())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDepthStopsAtTheLimit(t *testing.T) {
	rs := newServer(t, srvA, newMemStore())
	for _, tc := range []struct {
		version string
		limit   int64
	}{{"1", math.MaxInt64}, {"5", math.MaxInt64}, {"6", 1<<53 - 1}, {"12", 1<<53 - 1}} {
		c := newChain(t, rs, tc.version)
		create := c.add(stateReq("", alice, mRoomCreate, "", map[string]string{"room_version": tc.version, "creator": alice}))
		ver := create.Version()
		for _, d := range []int64{tc.limit - 2, tc.limit - 1, tc.limit} {
			want := tc.limit
			if d < tc.limit {
				want = d + 1
			}
			if got := depthAfter([]*mxcore.PDU{withDepth(t, create, d), create}, ver); got != want {
				t.Errorf("v%s: depth after %d = %d, want %d", tc.version, d, got, want)
			}
		}
	}
}

// Room versions 1 and 2 name events with IDs of their own and cite them
// as [ID, {"sha256": reference hash}] pairs.
func TestBuildHashPairReferences(t *testing.T) {
	rs := newServer(t, srvA, newMemStore())
	roomID := createRoom(t, rs, "2", CreateRoomOptions{})
	ev := pdus(t, rs, send(t, rs, message(roomID, alice, "hi")))[0]
	if !strings.HasSuffix(ev.EventID(), ":a.test") {
		t.Errorf("v2 event ID %s", ev.EventID())
	}
	prev := gjson.GetBytes(ev.JSON(), "prev_events.0")
	prevEv := pdus(t, rs, prev.Get("0").Str)[0]
	sum, _ := mxcore.ReferenceHash(prevEv.JSON(), ev.Version())
	if prev.Get("1.sha256").Str != mxcore.EncodeBase64(sum) {
		t.Errorf("prev reference %s, want hash %s", prev.Raw, mxcore.EncodeBase64(sum))
	}
	if n := len(gjson.GetBytes(ev.JSON(), "auth_events").Array()); n != 3 {
		t.Errorf("%d auth events", n)
	}
}

func TestBuildPlacesRedactsAndUnsigned(t *testing.T) {
	for _, v := range []string{"10", "11"} {
		rs := newServer(t, srvA, newMemStore())
		roomID := createRoom(t, rs, v, CreateRoomOptions{})
		target := send(t, rs, message(roomID, alice, "oops"))
		req := EventRequest{RoomID: roomID, Sender: alice, Type: mRoomRedaction, Content: []byte(`{"reason":"typo"}`),
			Redacts: target, Unsigned: []byte(`{"transaction_id":"t1"}`)}
		ev := pdus(t, rs, send(t, rs, req))[0]
		if ev.Redacts() != target {
			t.Errorf("v%s: redacts %q", v, ev.Redacts())
		}
		inContent := gjson.GetBytes(ev.Content(), "redacts").Exists()
		if inContent != (v == "11") || gjson.GetBytes(ev.JSON(), "redacts").Exists() == (v == "11") {
			t.Errorf("v%s: redacts in the wrong place: %s", v, ev.JSON())
		}
		if gjson.GetBytes(ev.JSON(), "unsigned.transaction_id").Str != "t1" || gjson.GetBytes(ev.Content(), "reason").Str != "typo" {
			t.Errorf("v%s: %s", v, ev.JSON())
		}
	}
}

// Local events come out hashed, signed and checkable like any other.
func TestBuiltEventsVerify(t *testing.T) {
	rs := newServer(t, srvA, newMemStore())
	roomID := createRoom(t, rs, "12", CreateRoomOptions{})
	ev, err := rs.BuildEvent(ctxT(t), message(roomID, alice, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mxcore.CheckContentHash(ev.JSON()); err != nil {
		t.Error(err)
	}
	pub := testKey(srvA).Public().(ed25519.PublicKey)
	if err := mxcore.VerifyEventSignature(ev.JSON(), srvA, "ed25519:test", pub, ev.Version()); err != nil {
		t.Error(err)
	}
	if gjson.GetBytes(ev.JSON(), "origin").Exists() {
		t.Error("events carry no origin key")
	}
	ex, _ := rs.ForwardExtremities(ctxT(t), roomID)
	if !slices.Equal(ev.PrevEventIDs(), ex) {
		t.Errorf("prevs %v", ev.PrevEventIDs())
	}
	if slices.Contains(ev.AuthEventIDs(), "$"+roomID[1:]) {
		t.Error("a v12 event cites the create event")
	}
}

// TestLocalEventsAreOutbound: the events this server creates and the room
// accepts are stored Outbound (the federation outbox records them in the
// same transaction), each once, when another server has a member joined
// or, for a leave or ban, is the removed user's; a local room's events
// are not (nobody else is owed them); a refused one is not stored at all.
func TestLocalEventsAreOutbound(t *testing.T) {
	store := newMemStore()
	rs := newServer(t, srvA, store)
	roomID := createRoom(t, rs, "12", CreateRoomOptions{Preset: PresetPublicChat})
	local := send(t, rs, message(roomID, alice, "only alice is here"))
	if len(store.outbound) != 0 {
		t.Fatalf("a local room's events are outbound: %v", store.outbound)
	}
	// An invite travels by /invite, not the outbox; revoking it is owed
	// to the invitee's server, which has no member joined.
	send(t, rs, member(roomID, alice, carol, "invite"))
	revoke := send(t, rs, member(roomID, alice, carol, "leave"))
	if !slices.Equal(store.outbound, []string{revoke}) {
		t.Fatalf("outbound %v, want only the revoked invite %s", store.outbound, revoke)
	}
	store.outbound = nil
	c := newServer(t, srvC, newMemStore())
	if r := deliver(t, rs, roomID, KindLive, buildRemoteJoin(t, rs, c, roomID, carol))[0]; r.Err != nil || r.Rejected != "" {
		t.Fatalf("the remote join was refused: %v %s", r.Err, r.Rejected)
	}
	if len(store.outbound) != 0 {
		t.Fatalf("a remote server's own join is outbound: %v", store.outbound)
	}
	id := send(t, rs, message(roomID, alice, "hi carol"))
	if _, err := rs.SendEvent(t.Context(), message(roomID, "@mallory:a.test", "not a member")); err == nil {
		t.Fatal("a non-member's message was accepted")
	}
	ban := send(t, rs, member(roomID, alice, carol, "ban"))
	after := send(t, rs, message(roomID, alice, "carol is gone"))
	if want := []string{id, ban}; !slices.Equal(store.outbound, want) {
		t.Errorf("outbound %v, want %v (not the local-only %s, not %s after the ban)", store.outbound, want, local, after)
	}
}
