package clientapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// createRoomRequest is the /createRoom body. The JSON-object options stay
// raw: the roomserver checks and merges them.
type createRoomRequest struct {
	Visibility      string            `json:"visibility"`
	RoomAliasName   string            `json:"room_alias_name"`
	Name            *string           `json:"name"`
	Topic           *string           `json:"topic"`
	Invite          []string          `json:"invite"`
	Invite3PID      []json.RawMessage `json:"invite_3pid"`
	RoomVersion     string            `json:"room_version"`
	CreationContent json.RawMessage   `json:"creation_content"`
	InitialState    []struct {
		Type     string          `json:"type"`
		StateKey string          `json:"state_key"`
		Content  json.RawMessage `json:"content"`
	} `json:"initial_state"`
	Preset                    string          `json:"preset"`
	IsDirect                  bool            `json:"is_direct"`
	PowerLevelContentOverride json.RawMessage `json:"power_level_content_override"`
}

// createRoom implements POST /createRoom. room_alias_name makes a local
// alias, which becomes the room's canonical alias. Visibility picks the
// default preset, and "public" publishes the room in the room directory.
func (a *API) createRoom(r *http.Request) (any, error) {
	var req createRoomRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if err := a.checkCreateRoom(req); err != nil {
		return nil, err
	}
	alias, err := a.newRoomAlias(r.Context(), req.RoomAliasName)
	if err != nil {
		return nil, err
	}
	s := roomCaller(r)
	opts := roomserver.CreateRoomOptions{
		Creator: s.UserID, RoomVersion: req.RoomVersion, Preset: req.Preset, Visibility: req.Visibility,
		CanonicalAlias: alias, Name: req.Name, Topic: req.Topic, Invite: req.Invite, IsDirect: req.IsDirect,
		PowerLevelContentOverride: nullToNil(req.PowerLevelContentOverride),
		CreationContent:           nullToNil(req.CreationContent),
	}
	for _, st := range req.InitialState {
		opts.InitialState = append(opts.InitialState, roomserver.InitialStateEvent{Type: st.Type, StateKey: st.StateKey, Content: st.Content})
	}
	opts.CreatorDisplayName, opts.CreatorAvatarURL = a.memberProfile(r.Context(), s.UserID)
	res, err := a.Rooms.CreateRoom(r.Context(), opts)
	if err != nil {
		return nil, roomError(err)
	}
	if err := a.reserveRoomAlias(r.Context(), alias, res.RoomID, s.UserID); err != nil {
		return nil, err
	}
	a.inviteRemotes(r.Context(), res.RoomID, s.UserID, res.RemoteInvites, req.IsDirect)
	if err := a.publishCreatedRoom(r.Context(), req.Visibility, res.RoomID); err != nil {
		return nil, err
	}
	return map[string]string{"room_id": res.RoomID}, nil
}

// checkCreateRoom refuses what the server cannot do yet, before anything
// is created, rather than create a room that silently lacks it.
func (a *API) checkCreateRoom(req createRoomRequest) error {
	if len(req.Invite3PID) > 0 {
		return mxcore.Unknown("third-party invites are not supported yet")
	}
	switch req.Visibility {
	case "", "public", "private":
	default:
		return mxcore.InvalidParam("visibility must be public or private")
	}
	for _, u := range req.Invite {
		id, err := mxcore.ParseUserID(u)
		if err != nil {
			return mxcore.InvalidParam("invite: invalid user ID " + u)
		}
		if id.Server != a.ServerName && a.RemoteRooms == nil {
			return mxcore.Unknown("inviting users on other servers is not available yet (no federation)")
		}
	}
	return nil
}

// nullToNil treats an absent or null JSON option as unset.
func nullToNil(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// memberProfile is the display name and avatar a user's join event
// carries; a profile that cannot be read leaves them out.
func (a *API) memberProfile(ctx context.Context, userID string) (displayName, avatarURL string) {
	p, err := a.Store.GetProfile(ctx, userID)
	if err != nil {
		return "", ""
	}
	return p.DisplayName, p.AvatarURL
}

// joinedRooms implements GET /joined_rooms.
func (a *API) joinedRooms(r *http.Request) (any, error) {
	rooms, err := a.Store.RoomsForUser(r.Context(), roomCaller(r).UserID, storage.MembershipJoin)
	if err != nil {
		return nil, err
	}
	if rooms == nil {
		rooms = []string{}
	}
	return map[string][]string{"joined_rooms": rooms}, nil
}
