package clientapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// The room directory's aliases (client-server API, "Room aliases"). Only
// this server's aliases exist: resolving another server's would take a
// federation directory query, which does not exist yet.

// aliasParam reads {roomAlias} and checks its grammar.
func aliasParam(r *http.Request) (string, mxcore.RoomAlias, error) {
	s := roomPathParam(r, "roomAlias")
	alias, err := mxcore.ParseRoomAlias(s)
	if err != nil {
		return "", alias, mxcore.InvalidParam("Room alias invalid")
	}
	return s, alias, nil
}

func aliasNotFound(alias string) error {
	return mxcore.NotFound("Room alias " + alias + " not found")
}

// putAlias implements PUT /directory/room/{roomAlias}. Only members of
// the room may point an alias at it, so nobody can squat names on rooms
// they cannot see.
func (a *API) putAlias(r *http.Request) (any, error) {
	s, alias, err := aliasParam(r)
	if err != nil {
		return nil, err
	}
	if alias.Server != a.ServerName {
		return nil, mxcore.InvalidParam("Room alias must be on this server (" + a.ServerName + ")")
	}
	var body struct {
		RoomID string `json:"room_id"`
	}
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if _, err := mxcore.ParseRoomID(body.RoomID); err != nil {
		return nil, mxcore.InvalidParam("room_id must be a room ID")
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	if m, _, err := a.Rooms.Membership(ctx, body.RoomID, userID); err != nil || m != "join" {
		return nil, notJoined(err)
	}
	return a.createAlias(ctx, s, body.RoomID, userID)
}

func notJoined(err error) error {
	if err != nil && !errors.Is(err, roomserver.ErrUnknownRoom) {
		return err
	}
	return mxcore.Forbidden("You must be joined to the room to give it an alias")
}

func (a *API) createAlias(ctx context.Context, alias, roomID, creator string) (any, error) {
	err := a.Store.CreateAlias(ctx, alias, roomID, creator)
	if errors.Is(err, storage.ErrConflict) {
		return nil, mxcore.NewError(http.StatusConflict, mxcore.ErrUnknown, "Room alias already exists")
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// getAlias implements GET /directory/room/{roomAlias}.
func (a *API) getAlias(r *http.Request) (any, error) {
	s, parsed, err := aliasParam(r)
	if err != nil {
		return nil, err
	}
	if parsed.Server != a.ServerName {
		roomID, servers, err := a.remoteAlias(r.Context(), s)
		if err != nil {
			return nil, err
		}
		return map[string]any{"room_id": roomID, "servers": servers}, nil
	}
	roomID, err := a.resolveAlias(r.Context(), s)
	if err != nil {
		return nil, err
	}
	servers, err := a.Rooms.JoinedServers(r.Context(), roomID)
	if err != nil && !errors.Is(err, roomserver.ErrUnknownRoom) {
		return nil, err
	}
	if len(servers) == 0 {
		// The room is empty, but this server still knows the alias.
		servers = []string{a.ServerName}
	}
	return map[string]any{"room_id": roomID, "servers": servers}, nil
}

// resolveAlias maps a local alias to its room; anything else is 404.
func (a *API) resolveAlias(ctx context.Context, alias string) (string, error) {
	roomID, _, err := a.Store.AliasRoom(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) {
		return "", aliasNotFound(alias)
	}
	return roomID, err
}

// deleteAlias implements DELETE /directory/room/{roomAlias}: allowed to
// the alias's creator and to members powerful enough to change the room's
// canonical alias (the room's moderators tidying up).
func (a *API) deleteAlias(r *http.Request) (any, error) {
	s, _, err := aliasParam(r)
	if err != nil {
		return nil, err
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	roomID, creator, err := a.Store.AliasRoom(ctx, s)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, aliasNotFound(s)
	}
	if err != nil {
		return nil, err
	}
	if creator != userID {
		if err := a.requireAliasPower(ctx, roomID, userID); err != nil {
			return nil, err
		}
	}
	if err := a.Store.DeleteAlias(ctx, s); errors.Is(err, storage.ErrNotFound) {
		return nil, aliasNotFound(s)
	} else if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// requireAliasPower refuses unless the user is joined and may send
// m.room.canonical_alias.
func (a *API) requireAliasPower(ctx context.Context, roomID, userID string) error {
	may, err := a.mayChangeCanonicalAlias(ctx, roomID, userID, false)
	if err != nil {
		return err
	}
	if !may {
		return mxcore.Forbidden("You may only delete aliases you created, or need the power to change the room's canonical alias")
	}
	return nil
}

// mayChangeCanonicalAlias reports whether userID is joined to roomID and
// may send m.room.canonical_alias there; with creatorMay, the room's
// creator may whatever their level now.
func (a *API) mayChangeCanonicalAlias(ctx context.Context, roomID, userID string, creatorMay bool) (bool, error) {
	if m, _, err := a.Rooms.Membership(ctx, roomID, userID); err != nil || m != "join" {
		return false, nil
	}
	if creatorMay {
		if create, err := a.Rooms.CurrentStateEvent(ctx, roomID, "m.room.create", ""); err == nil && create.Sender() == userID {
			return true, nil
		}
	}
	state, err := a.powerState(ctx, roomID)
	if err != nil {
		return false, err
	}
	return roomserver.PowerLevelOf(userID, state) >= roomserver.RequiredPowerLevel("m.room.canonical_alias", true, state), nil
}

// getRoomAliases implements GET /rooms/{roomId}/aliases, for members of
// the room (or anyone, in a world_readable room).
func (a *API) getRoomAliases(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	m, _, err := a.Rooms.Membership(ctx, roomID, roomCaller(r).UserID)
	if errors.Is(err, roomserver.ErrUnknownRoom) || err == nil && m != "join" && !a.worldReadable(ctx, roomID) {
		return nil, mxcore.Forbidden("You are not a member of the room")
	}
	if err != nil {
		return nil, err
	}
	aliases, err := a.Store.RoomAliases(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return map[string][]string{"aliases": aliases}, nil
}
