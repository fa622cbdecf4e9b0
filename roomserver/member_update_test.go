package roomserver

import (
	"encoding/json"
	"testing"
)

func TestUpdateJoinedMember(t *testing.T) {
	rs := newServer(t, srvA, newMemStore())
	roomID := createRoom(t, rs, "10", CreateRoomOptions{Preset: "public_chat"})
	setName := func(name string) func(map[string]any) bool {
		return func(c map[string]any) bool {
			if c["displayname"] == name {
				return false
			}
			c["displayname"] = name
			return true
		}
	}

	id, sent, err := rs.UpdateJoinedMember(ctxT(t), roomID, alice, setName("Alice"))
	if err != nil || !sent {
		t.Fatalf("joined user: sent=%v err=%v", sent, err)
	}
	ev, err := rs.CurrentStateEvent(ctxT(t), roomID, mRoomMember, alice)
	if err != nil || ev.EventID() != id {
		t.Fatalf("current member event %v, %v; want %s", ev, err, id)
	}
	var content map[string]any
	_ = json.Unmarshal(ev.Content(), &content)
	if content["displayname"] != "Alice" || content["membership"] != "join" {
		t.Errorf("content %v", content)
	}

	tests := []struct {
		name string
		user string
		set  func(map[string]any) bool
	}{
		{"no change", alice, setName("Alice")},
		{"never in the room", amy, setName("Amy")},
	}
	for _, tc := range tests {
		if _, sent, err := rs.UpdateJoinedMember(ctxT(t), roomID, tc.user, tc.set); err != nil || sent {
			t.Errorf("%s: sent=%v err=%v, want nothing sent", tc.name, sent, err)
		}
	}

	// After a leave, nothing is sent: a profile change never rejoins.
	if _, err := rs.SendEvent(ctxT(t), EventRequest{RoomID: roomID, Sender: amy, Type: mRoomMember, StateKey: sptrs(amy), Content: []byte(`{"membership":"join"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.SendEvent(ctxT(t), EventRequest{RoomID: roomID, Sender: amy, Type: mRoomMember, StateKey: sptrs(amy), Content: []byte(`{"membership":"leave"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, sent, err := rs.UpdateJoinedMember(ctxT(t), roomID, amy, setName("Amy")); err != nil || sent {
		t.Errorf("left user: sent=%v err=%v", sent, err)
	}
	if m, _, _ := rs.Membership(ctxT(t), roomID, amy); m != "leave" {
		t.Errorf("amy's membership is %q, want leave", m)
	}
}
