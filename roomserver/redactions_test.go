package roomserver

import (
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

// A redaction sent through the pipeline is recorded on its target, so
// every reader serves the target redacted; the client API no longer does
// this itself.
func TestRedactionIsRecordedOnItsTarget(t *testing.T) {
	for _, v := range []string{"1", "3", "11", "12"} {
		store := newMemStore()
		rs := newServer(t, srvA, store)
		roomID := createRoom(t, rs, v, CreateRoomOptions{})
		target := send(t, rs, message(roomID, alice, "oops"))
		other := send(t, rs, message(roomID, alice, "keep"))
		redaction := send(t, rs, EventRequest{RoomID: roomID, Sender: alice, Type: mRoomRedaction,
			Content: []byte(`{}`), Redacts: target})
		if got, _ := store.stored(target); got.RedactedBecause != redaction {
			t.Errorf("v%s: target redacted_because %q, want %q", v, got.RedactedBecause, redaction)
		}
		if got, _ := store.stored(other); got.RedactedBecause != "" {
			t.Errorf("v%s: an untouched event was marked redacted by %q", v, got.RedactedBecause)
		}
	}
}

// From room version 3 the auth rules admit any redaction; it applies only
// when the senders share a server or the redacter holds the redact level.
func TestRedactionAppliesOnlyWithPowerOrSameServer(t *testing.T) {
	ver, _ := mxcore.GetRoomVersion("11")
	event := func(sender, typ, stateKey, content string) *mxcore.PDU {
		sk := ""
		if stateKey != "-" {
			sk = fmt.Sprintf(`"state_key":%q,`, stateKey)
		}
		raw := fmt.Sprintf(`{"room_id":"!r:a.test","sender":%q,"type":%q,%s"content":%s,`+
			`"prev_events":["$p"],"auth_events":[],"depth":2,"origin_server_ts":1,"hashes":{"sha256":"x"},"signatures":{}}`,
			sender, typ, sk, content)
		ev, err := mxcore.NewPDU([]byte(raw), ver)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	state := func(bobLevel int) AuthStateProvider {
		create := event(alice, mRoomCreate, "", `{"room_version":"11"}`)
		levels := event(alice, mRoomPowerLevels, "", fmt.Sprintf(`{"users":{%q:100,%q:%d},"redact":50}`, alice, bob, bobLevel))
		return NewAuthStateMap(create, levels)
	}
	message := func(sender string) *mxcore.PDU { return event(sender, "m.room.message", "-", `{}`) }
	cases := []struct {
		name             string
		redacter, target string
		bobLevel         int
		want             bool
	}{
		{"same server", "@dave:a.test", alice, 0, true},
		{"other server without power", bob, alice, 0, false},
		{"other server with the redact level", bob, alice, 50, true},
		{"other server below the redact level", bob, alice, 49, false},
	}
	for _, tc := range cases {
		if got := redactionApplies(message(tc.redacter), message(tc.target), state(tc.bobLevel)); got != tc.want {
			t.Errorf("%s: applies = %v, want %v", tc.name, got, tc.want)
		}
	}
}
