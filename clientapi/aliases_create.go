package clientapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// newRoomAlias checks /createRoom's room_alias_name before the room is
// made, so a bad or taken name creates nothing: it returns the full alias
// ("" for no name).
func (a *API) newRoomAlias(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	alias := "#" + name + ":" + a.ServerName
	if _, err := mxcore.ParseRoomAlias(alias); err != nil || strings.ContainsAny(name, "#:") {
		return "", mxcore.InvalidParam("room_alias_name is not a valid alias localpart")
	}
	_, _, err := a.Store.AliasRoom(ctx, alias)
	if err == nil {
		return "", aliasInUse()
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	return alias, nil
}

func aliasInUse() error {
	return mxcore.NewError(http.StatusBadRequest, mxcore.ErrRoomInUse, "Room alias already taken")
}

// reserveRoomAlias points the new room's alias at it. Losing a race for
// the name after the check leaves the room made with a canonical alias
// that is not its own; the client is told, since its request failed.
func (a *API) reserveRoomAlias(ctx context.Context, alias, roomID, creator string) error {
	if alias == "" {
		return nil
	}
	err := a.Store.CreateAlias(ctx, alias, roomID, creator)
	if errors.Is(err, storage.ErrConflict) {
		return aliasInUse()
	}
	return err
}
