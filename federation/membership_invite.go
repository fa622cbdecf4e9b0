package federation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/storage"
)

// maxInviteRoomState bounds the stripped state kept with an invite.
const maxInviteRoomState = 50

// inviteRequest is the body of PUT /_matrix/federation/v2/invite.
type inviteRequest struct {
	RoomVersion     string            `json:"room_version"`
	Event           json.RawMessage   `json:"event"`
	InviteRoomState []json.RawMessage `json:"invite_room_state"`
}

// receiveInvite is the invited server's side of an invite: it checks the
// event (an invite from a user of the requesting server, to a user of
// ours, signed by the requesting server), signs it, and keeps it so the
// invitee sees it in /sync.
func (m *Membership) receiveInvite(r *http.Request) (any, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	roomID, eventID := memberPathParam(r, "roomId"), memberPathParam(r, "eventId")
	if err := m.allowed(ctx, policy.Input{Action: policy.ActionInvite, Server: origin, RoomID: roomID}); err != nil {
		return nil, err
	}
	var req inviteRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.RoomVersion == "" || len(req.Event) == 0 {
		return nil, mxcore.MissingParam("room_version and event are required")
	}
	ver, ok := mxcore.GetRoomVersion(req.RoomVersion)
	if !ok {
		return nil, incompatibleVersion(req.RoomVersion, "This server does not support room version "+req.RoomVersion)
	}
	signed, err := m.acceptInvite(ctx, req.Event, ver, roomID, eventID, origin, req.InviteRoomState)
	if err != nil {
		return nil, err
	}
	return map[string]json.RawMessage{"event": signed}, nil
}

// acceptInvite checks an invite event (v1 or v2), signs it and keeps it;
// it returns the event as it came with our signature added.
func (m *Membership) acceptInvite(ctx context.Context, raw []byte, ver mxcore.RoomVersion, roomID, eventID, origin string, roomState []json.RawMessage) ([]byte, error) {
	ev, err := m.checkInviteEvent(ctx, raw, ver, roomID, eventID, origin)
	if err != nil {
		return nil, err
	}
	signed, err := mxcore.SignEvent(ev.JSON(), m.ServerName, m.KeyID, m.PrivateKey, ver)
	if err != nil {
		return nil, err
	}
	kept := signed
	if gjson.GetBytes(signed, "unsigned").Exists() {
		// v1 carries the room's state there; it is kept on its own.
		if kept, err = withUnsigned(signed, nil); err != nil {
			return nil, err
		}
	}
	if err := m.keepInvite(ctx, ev, kept, ver, roomState); err != nil {
		return nil, err
	}
	return signed, nil
}

// checkInviteEvent applies the validation the spec asks of an invited
// server before it signs: M_INVALID_PARAM unless the event is an invite
// of a local user, sent by a user of origin, and signed by origin.
func (m *Membership) checkInviteEvent(ctx context.Context, raw []byte, ver mxcore.RoomVersion, roomID, eventID, origin string) (*mxcore.PDU, error) {
	ev, err := mxcore.NewPDU(raw, ver)
	if err != nil {
		return nil, mxcore.InvalidParam("Not a valid event of room version " + ver.ID + ": " + err.Error())
	}
	switch {
	case ev.EventID() != eventID || ev.RoomID() != roomID:
		return nil, mxcore.InvalidParam("The event is not the one the path names")
	case ev.Type() != "m.room.member" || ev.StateKey() == nil:
		return nil, mxcore.InvalidParam("Not a membership event")
	case gjson.GetBytes(ev.Content(), "membership").Str != "invite":
		return nil, mxcore.InvalidParam("The event's membership is not invite")
	}
	sender, err := mxcore.ParseUserID(ev.Sender())
	if err != nil || sender.Server != origin {
		return nil, mxcore.InvalidParam("The sender is not a user of the requesting server")
	}
	invitee, err := mxcore.ParseUserID(*ev.StateKey())
	if err != nil || invitee.Server != m.ServerName {
		return nil, mxcore.InvalidParam("The invitee is not a user of this server")
	}
	if err := mxcore.CheckContentHash(ev.JSON()); err != nil {
		return nil, mxcore.InvalidParam("Content hash: " + err.Error())
	}
	if err := m.Keys.VerifyEventFrom(ctx, origin, ev.JSON(), ver); err != nil {
		return nil, mxcore.InvalidParam("The event is not signed by " + origin)
	}
	return ev, nil
}

// keepInvite stores the invite for the invitee's /sync. In a room this
// server has joined members in, the invite arrives through the room's
// events as well (the inviting server sends it to every server in the
// room), so only invites into other rooms are kept aside.
func (m *Membership) keepInvite(ctx context.Context, ev *mxcore.PDU, signed []byte, ver mxcore.RoomVersion, roomState []json.RawMessage) error {
	if m.participates(ctx, ev.RoomID()) {
		return nil
	}
	state, err := json.Marshal(strippedFromPDUs(roomState, ev.RoomID(), maxInviteRoomState))
	if err != nil {
		return err
	}
	pos, err := m.Store.AddRemoteInvite(ctx, storage.RemoteInvite{
		RoomID: ev.RoomID(), UserID: *ev.StateKey(), EventID: ev.EventID(), RoomVersion: ver.ID,
		Sender: ev.Sender(), Event: signed, InviteState: state,
	})
	if err == nil && m.InviteStored != nil {
		m.InviteStored(ev.RoomID(), *ev.StateKey(), pos)
	}
	return err
}

// inviteStrippedEvent is a stripped state event (client-server API).
type inviteStrippedEvent struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Sender   string          `json:"sender"`
	Content  json.RawMessage `json:"content"`
}

// strippedFromPDUs strips the state events of roomID among evs, keeping at
// most limit; anything else is dropped, as the spec allows.
func strippedFromPDUs(evs []json.RawMessage, roomID string, limit int) []inviteStrippedEvent {
	out := []inviteStrippedEvent{}
	for _, raw := range evs {
		if len(out) == limit {
			break
		}
		ev := gjson.ParseBytes(raw)
		sk, content := ev.Get("state_key"), ev.Get("content")
		if !ev.IsObject() || sk.Type != gjson.String || !content.IsObject() || ev.Get("type").Type != gjson.String {
			continue
		}
		if rid := ev.Get("room_id"); rid.Exists() && rid.Str != roomID {
			continue
		}
		out = append(out, inviteStrippedEvent{Type: ev.Get("type").Str, StateKey: sk.Str, Sender: ev.Get("sender").Str, Content: json.RawMessage(content.Raw)})
	}
	return out
}

// queryDirectory answers GET /_matrix/federation/v1/query/directory for
// an alias of this server: the room and the servers in it.
func (m *Membership) queryDirectory(r *http.Request) (any, error) {
	ctx := r.Context()
	alias, err := mxcore.ParseRoomAlias(r.URL.Query().Get("room_alias"))
	if err != nil {
		return nil, mxcore.InvalidParam("room_alias is not a room alias")
	}
	if alias.Server != m.ServerName {
		return nil, mxcore.NotFound("Room alias not found")
	}
	roomID, _, err := m.Store.AliasRoom(ctx, alias.String())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, mxcore.NotFound("Room alias not found")
	}
	if err != nil {
		return nil, err
	}
	if err := m.allowed(ctx, policy.Input{Action: policy.ActionServeRoomData, Server: Origin(ctx), RoomID: roomID, Route: "/_matrix/federation/v1/query/directory"}); err != nil {
		return nil, err
	}
	servers, err := m.Rooms.JoinedServers(ctx, roomID)
	if err != nil || len(servers) == 0 {
		servers = []string{m.ServerName}
	}
	return map[string]any{"room_id": roomID, "servers": serversWithFirst(servers, m.ServerName)}, nil
}

// serversWithFirst puts first at the head of servers (adding it if
// absent), so joiners try the server they asked first.
func serversWithFirst(servers []string, first string) []string {
	out := []string{first}
	for _, s := range servers {
		if s != first {
			out = append(out, s)
		}
	}
	return out
}
