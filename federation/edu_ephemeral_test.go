package federation

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/warbler-im/warbler/storage"
)

type sinkRecord struct {
	typing   []string
	receipts []string
	presence []string
}

func (s *sinkRecord) SetTyping(roomID, userID string, typing bool, _ time.Duration) {
	if typing {
		s.typing = append(s.typing, roomID+" "+userID)
	}
}

func (s *sinkRecord) ReceiveReceipt(_ context.Context, roomID, userID, eventID, _ string, _ int64) error {
	s.receipts = append(s.receipts, roomID+" "+userID+" "+eventID)
	return nil
}

func (s *sinkRecord) SetRemotePresence(_ context.Context, p storage.Presence) error {
	s.presence = append(s.presence, p.UserID+" "+p.Presence)
	return nil
}

// eduRooms: !in:x has servers a.test and us.test; !acl:x has a.test but
// its ACL denies it.
type eduRooms struct{}

func (eduRooms) JoinedServers(_ context.Context, roomID string) ([]string, error) {
	switch roomID {
	case "!in:x", "!acl:x":
		return []string{"a.test", "us.test"}, nil
	}
	return []string{"us.test"}, nil
}

func (eduRooms) ServerAllowedInRoom(_ context.Context, roomID, _ string) (bool, error) {
	return roomID != "!acl:x", nil
}

func TestInboundEphemeralEDUsAreCheckedPerUserAndRoom(t *testing.T) {
	cases := []struct {
		name, eduType, content string
		want                   sinkRecord
	}{
		{"typing of its own user in a joined room", "m.typing", `{"room_id":"!in:x","user_id":"@u:a.test","typing":true}`,
			sinkRecord{typing: []string{"!in:x @u:a.test"}}},
		{"typing for another server's user", "m.typing", `{"room_id":"!in:x","user_id":"@u:b.test","typing":true}`, sinkRecord{}},
		{"typing in a room the origin is not in", "m.typing", `{"room_id":"!out:x","user_id":"@u:a.test","typing":true}`, sinkRecord{}},
		{"typing in a room whose ACL denies the origin", "m.typing", `{"room_id":"!acl:x","user_id":"@u:a.test","typing":true}`, sinkRecord{}},
		{"receipts: only the entitled ones, newest event", "m.receipt",
			`{"!in:x":{"m.read":{"@u:a.test":{"event_ids":["$1","$2"],"data":{"ts":5}},"@v:b.test":{"event_ids":["$3"],"data":{"ts":5}}}},` +
				`"!out:x":{"m.read":{"@u:a.test":{"event_ids":["$4"],"data":{"ts":5}}}}}`,
			sinkRecord{receipts: []string{"!in:x @u:a.test $2"}}},
		{"presence of its own users only", "m.presence",
			`{"push":[{"user_id":"@u:a.test","presence":"online","last_active_ago":10},{"user_id":"@v:b.test","presence":"online"}]}`,
			sinkRecord{presence: []string{"@u:a.test online"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sink := &sinkRecord{}
			e := &inboundEphemeral{rooms: eduRooms{}, sink: sink}
			handlers := map[string]func(context.Context, string, json.RawMessage) error{
				"m.typing": e.typing, "m.receipt": e.receipt, "m.presence": e.presence,
			}
			_ = handlers[c.eduType](t.Context(), "a.test", json.RawMessage(c.content))
			if got, want := jsonOf(t, sink), jsonOf(t, &c.want); got != want {
				t.Errorf("applied %s, want %s", got, want)
			}
		})
	}
}

func jsonOf(t *testing.T, s *sinkRecord) string {
	t.Helper()
	raw, err := json.Marshal([][]string{s.typing, s.receipts, s.presence})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
