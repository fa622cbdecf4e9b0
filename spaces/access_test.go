package spaces

import (
	"context"
	"testing"
)

func TestUserMaySee(t *testing.T) {
	room := func(joinRule string, worldReadable bool, allowed ...string) Summary {
		return Summary{PublicRoom: PublicRoom{RoomID: "!r:x", JoinRule: joinRule, WorldReadable: worldReadable}, AllowedRoomIDs: allowed}
	}
	tests := []struct {
		name        string
		s           Summary
		memberships map[string]string
		want        bool
	}{
		{"public", room("public", false), nil, true},
		{"knock", room("knock", false), nil, true},
		{"knock_restricted", room("knock_restricted", false), nil, true},
		{"world readable invite-only", room("invite", true), nil, true},
		{"invite-only stranger", room("invite", false), nil, false},
		{"invite-only member", room("invite", false), map[string]string{"!r:x": "join"}, true},
		{"invite-only invited", room("invite", false), map[string]string{"!r:x": "invite"}, true},
		{"invite-only left", room("invite", false), map[string]string{"!r:x": "leave"}, false},
		{"banned from public", room("public", false), map[string]string{"!r:x": "ban"}, false},
		{"banned from world readable", room("invite", true), map[string]string{"!r:x": "ban"}, true},
		{"restricted, in allowed room", room("restricted", false, "!p:x"), map[string]string{"!p:x": "join"}, true},
		{"restricted, invited to allowed room only", room("restricted", false, "!p:x"), map[string]string{"!p:x": "invite"}, false},
		{"restricted, not in allowed room", room("restricted", false, "!p:x"), nil, false},
		{"private with allow list ignored", room("invite", false, "!p:x"), map[string]string{"!p:x": "join"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UserMaySee(context.Background(), tt.s, func(_ context.Context, roomID string) (string, error) {
				return tt.memberships[roomID], nil
			})
			if err != nil || got != tt.want {
				t.Errorf("UserMaySee = %v, %v; want %v", got, err, tt.want)
			}
			if OpenToAll(tt.s) && !tt.want && tt.memberships["!r:x"] != "ban" {
				t.Errorf("open to all but not visible")
			}
		})
	}
}

func TestTakeJoinRules(t *testing.T) {
	var c contentFields
	c.JoinRule = "restricted"
	c.Allow = append(c.Allow, struct {
		Type   string `json:"type"`
		RoomID string `json:"room_id"`
	}{"m.room_membership", "!p:x"}, struct {
		Type   string `json:"type"`
		RoomID string `json:"room_id"`
	}{"m.other", "!q:x"})
	var s Summary
	takeJoinRules(&s, c)
	if s.JoinRule != "restricted" || len(s.AllowedRoomIDs) != 1 || s.AllowedRoomIDs[0] != "!p:x" {
		t.Errorf("summary = %+v", s)
	}
	c.JoinRule = "invite"
	s = Summary{}
	takeJoinRules(&s, c)
	if len(s.AllowedRoomIDs) != 0 {
		t.Errorf("allow list kept for an invite-only room: %v", s.AllowedRoomIDs)
	}
}
