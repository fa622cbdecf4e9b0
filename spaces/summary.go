package spaces

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Reader is the part of the roomserver the summaries read;
// *roomserver.RoomServer is one.
type Reader interface {
	RoomVersion(ctx context.Context, roomID string) (mxcore.RoomVersion, error)
	CurrentState(ctx context.Context, roomID string) ([]storage.StateEntry, error)
	CurrentStateEvent(ctx context.Context, roomID, typ, stateKey string) (*mxcore.PDU, error)
	JoinedUsers(ctx context.Context, roomID string) ([]string, error)
	JoinedServers(ctx context.Context, roomID string) ([]string, error)
	Membership(ctx context.Context, roomID, userID string) (membership, eventID string, err error)
}

var _ Reader = (*roomserver.RoomServer)(nil)

// PublicRoom is a room's entry in the public room directory
// (PublicRoomsChunk).
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	JoinRule         string `json:"join_rule,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
}

// Summary is the RoomSummary of the spec: the directory entry and what
// the join rules, encryption and version say.
type Summary struct {
	PublicRoom
	AllowedRoomIDs []string `json:"allowed_room_ids,omitempty"`
	Encryption     string   `json:"encryption,omitempty"`
	RoomVersion    string   `json:"room_version,omitempty"`
}

// contentFields are the content fields a summary shows, each read from
// the state event of its own type only.
type contentFields struct {
	Name              string `json:"name"`
	Topic             string `json:"topic"`
	Alias             string `json:"alias"`
	URL               string `json:"url"`
	JoinRule          string `json:"join_rule"`
	HistoryVisibility string `json:"history_visibility"`
	GuestAccess       string `json:"guest_access"`
	Type              string `json:"type"`
	Algorithm         string `json:"algorithm"`
	Allow             []struct {
		Type   string `json:"type"`
		RoomID string `json:"room_id"`
	} `json:"allow"`
}

// summaryTypes maps each state type a summary reads to what it takes.
var summaryTypes = map[string]func(s *Summary, c contentFields){
	"m.room.create":          func(s *Summary, c contentFields) { s.RoomType = c.Type },
	"m.room.name":            func(s *Summary, c contentFields) { s.Name = c.Name },
	"m.room.topic":           func(s *Summary, c contentFields) { s.Topic = c.Topic },
	"m.room.canonical_alias": func(s *Summary, c contentFields) { s.CanonicalAlias = c.Alias },
	"m.room.avatar":          func(s *Summary, c contentFields) { s.AvatarURL = c.URL },
	"m.room.join_rules":      takeJoinRules,
	"m.room.guest_access":    func(s *Summary, c contentFields) { s.GuestCanJoin = c.GuestAccess == "can_join" },
	"m.room.encryption":      func(s *Summary, c contentFields) { s.Encryption = c.Algorithm },
	"m.room.history_visibility": func(s *Summary, c contentFields) {
		s.WorldReadable = c.HistoryVisibility == roomserver.VisibilityWorldReadable
	},
}

// maxAllowedRooms bounds the allow list a summary repeats (and the rooms
// an access check looks at).
const maxAllowedRooms = 50

// takeJoinRules reads the join rule and, for the restricted rules, the
// rooms whose members may join.
func takeJoinRules(s *Summary, c contentFields) {
	s.JoinRule = c.JoinRule
	if c.JoinRule != "restricted" && c.JoinRule != "knock_restricted" {
		return
	}
	for _, a := range c.Allow {
		if a.Type == "m.room_membership" && a.RoomID != "" && len(s.AllowedRoomIDs) < maxAllowedRooms {
			s.AllowedRoomIDs = append(s.AllowedRoomIDs, a.RoomID)
		}
	}
}

// LocalSummary reads a room's summary from its current state: only the
// few state slots it shows, each from the roomserver's in-memory state
// and event cache. roomserver.ErrUnknownRoom if the room is not known.
func LocalSummary(ctx context.Context, r Reader, roomID string) (Summary, error) {
	s := Summary{PublicRoom: PublicRoom{RoomID: roomID}}
	ver, err := r.RoomVersion(ctx, roomID)
	if err != nil {
		return s, err
	}
	s.RoomVersion = ver.ID
	for typ, take := range summaryTypes {
		ev, err := r.CurrentStateEvent(ctx, roomID, typ, "")
		if errors.Is(err, roomserver.ErrNoStateEvent) {
			continue
		}
		if err != nil {
			return s, err
		}
		var c contentFields
		// A malformed field is left out of the summary, not an error.
		_ = json.Unmarshal(ev.Content(), &c)
		take(&s, c)
	}
	members, err := r.JoinedUsers(ctx, roomID)
	if err != nil {
		return s, err
	}
	s.NumJoinedMembers = len(members)
	return s, nil
}
