package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Room upgrades (client-server API, "Room Upgrades"): POST
// /rooms/{roomId}/upgrade replaces a room by a new one of another version.

// maxAdditionalCreators bounds additional_creators.
const maxAdditionalCreators = 100

type upgradeRequest struct {
	NewVersion         string   `json:"new_version"`
	AdditionalCreators []string `json:"additional_creators"`
}

// upgradeRoom implements POST /rooms/{roomId}/upgrade, following the
// spec's server behaviour: check the tombstone power, create the new
// room (predecessor, type, copied state and power levels, bans), move the
// local aliases and the directory listing, tombstone the old room and
// restrict its power levels.
func (a *API) upgradeRoom(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	var req upgradeRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	target, err := checkUpgradeRequest(req)
	if err != nil {
		return nil, err
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	if err := a.requireTombstonePower(ctx, roomID, userID); err != nil {
		return nil, err
	}
	old, err := a.readUpgradedState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	opts := a.upgradeOptions(ctx, roomID, userID, target, req, old)
	res, err := a.Rooms.CreateRoom(ctx, opts)
	if err != nil {
		return nil, roomError(err)
	}
	if err := a.retireOldRoom(ctx, roomID, res.RoomID, userID, old); err != nil {
		return nil, err
	}
	return map[string]string{"replacement_room": res.RoomID}, nil
}

// checkUpgradeRequest checks the body: a known version and valid
// additional creators.
func checkUpgradeRequest(req upgradeRequest) (mxcore.RoomVersion, error) {
	if req.NewVersion == "" {
		return mxcore.RoomVersion{}, mxcore.MissingParam("new_version is required")
	}
	target, ok := mxcore.GetRoomVersion(req.NewVersion)
	if !ok {
		return target, mxcore.NewError(http.StatusBadRequest, mxcore.ErrUnsupportedRoomVer, "This server does not support room version %q", req.NewVersion)
	}
	if len(req.AdditionalCreators) > maxAdditionalCreators {
		return target, mxcore.InvalidParam("additional_creators lists too many users")
	}
	for _, u := range req.AdditionalCreators {
		if _, err := mxcore.ParseUserID(u); err != nil {
			return target, mxcore.InvalidParam("additional_creators: invalid user ID " + u)
		}
	}
	return target, nil
}

// requireTombstonePower refuses unless the user is joined and may send
// m.room.tombstone (unknown rooms look the same, not to reveal them).
func (a *API) requireTombstonePower(ctx context.Context, roomID, userID string) error {
	forbidden := mxcore.Forbidden("You cannot upgrade this room: it needs the power to send m.room.tombstone")
	if m, _, err := a.Rooms.Membership(ctx, roomID, userID); errors.Is(err, roomserver.ErrUnknownRoom) || err == nil && m != "join" {
		return mxcore.Forbidden("You are not in this room, or it does not exist")
	} else if err != nil {
		return err
	}
	state, err := a.powerState(ctx, roomID)
	if err != nil {
		return err
	}
	if roomserver.PowerLevelOf(userID, state) < roomserver.RequiredPowerLevel("m.room.tombstone", true, state) {
		return forbidden
	}
	return nil
}

// upgradedState is what an upgrade reads of the old room.
type upgradedState struct {
	create      *mxcore.PDU
	powerLevels *mxcore.PDU   // nil if the room has none
	transfer    []*mxcore.PDU // upgradeTransferTypes present, in that order
	banned      []string      // banned users, up to maxUpgradeBans
	published   bool          // listed in the room directory
}

func (a *API) readUpgradedState(ctx context.Context, roomID string) (upgradedState, error) {
	var old upgradedState
	var err error
	if old.create, err = a.Rooms.CurrentStateEvent(ctx, roomID, "m.room.create", ""); err != nil {
		return old, roomError(err)
	}
	if old.powerLevels, err = a.optionalStateEvent(ctx, roomID, "m.room.power_levels"); err != nil {
		return old, err
	}
	for _, typ := range upgradeTransferTypes {
		ev, err := a.optionalStateEvent(ctx, roomID, typ)
		if err != nil {
			return old, err
		}
		if ev != nil {
			old.transfer = append(old.transfer, ev)
		}
	}
	banned, err := a.Store.RoomMembers(ctx, roomID, storage.MembershipBan)
	if err != nil {
		return old, err
	}
	old.banned = banned[:min(len(banned), maxUpgradeBans)]
	old.published, err = a.Store.RoomPublished(ctx, roomID)
	return old, err
}

// optionalStateEvent is the current (typ, "") event, or nil if none.
func (a *API) optionalStateEvent(ctx context.Context, roomID, typ string) (*mxcore.PDU, error) {
	ev, err := a.Rooms.CurrentStateEvent(ctx, roomID, typ, "")
	if errors.Is(err, roomserver.ErrNoStateEvent) {
		return nil, nil
	}
	return ev, roomError(err)
}

// upgradeOptions describes the new room to the roomserver.
func (a *API) upgradeOptions(ctx context.Context, roomID, userID string, target mxcore.RoomVersion, req upgradeRequest, old upgradedState) roomserver.CreateRoomOptions {
	opts := roomserver.CreateRoomOptions{
		Creator: userID, RoomVersion: target.ID, Preset: upgradePreset(old),
		CreationContent: upgradeCreationContent(a.lastEventID(ctx, roomID), roomID, target, req, old.create),
	}
	opts.CreatorDisplayName, opts.CreatorAvatarURL = a.memberProfile(ctx, userID)
	for _, ev := range old.transfer {
		opts.InitialState = append(opts.InitialState, roomserver.InitialStateEvent{Type: ev.Type(), Content: ev.Content()})
	}
	for _, u := range old.banned {
		opts.InitialState = append(opts.InitialState, roomserver.InitialStateEvent{Type: "m.room.member", StateKey: u, Content: []byte(`{"membership":"ban"}`)})
	}
	if old.powerLevels == nil {
		return opts // the new room's defaults, as the old room had none
	}
	newCreators := []string{}
	if target.PrivilegedCreators {
		newCreators = append([]string{userID}, req.AdditionalCreators...)
	}
	bootstrap, final := upgradedPowerLevels(parsePowerLevels(old.powerLevels.Content()), creatorsOf(old.create), newCreators, userID, target)
	opts.PowerLevelContentOverride = bootstrap.content()
	if string(final.content()) != string(bootstrap.content()) {
		opts.InitialState = append(opts.InitialState, roomserver.InitialStateEvent{Type: "m.room.power_levels", Content: final.content()})
	}
	return opts
}

// upgradePreset picks the preset whose defaults fill what the old room
// did not set (guest access, say): public_chat for a public room.
func upgradePreset(old upgradedState) string {
	for _, ev := range old.transfer {
		var c struct {
			JoinRule string `json:"join_rule"`
		}
		if ev.Type() == "m.room.join_rules" && json.Unmarshal(ev.Content(), &c) == nil && c.JoinRule == "public" {
			return roomserver.PresetPublicChat
		}
	}
	return roomserver.PresetPrivateChat
}

// upgradeCreationContent is the new room's create content: predecessor,
// the old room's type, and additional creators where the version has them.
func upgradeCreationContent(lastEventID, roomID string, target mxcore.RoomVersion, req upgradeRequest, oldCreate *mxcore.PDU) []byte {
	predecessor := map[string]string{"room_id": roomID}
	if lastEventID != "" {
		predecessor["event_id"] = lastEventID
	}
	content := map[string]any{"predecessor": predecessor}
	var old struct {
		Type *string `json:"type"`
	}
	if json.Unmarshal(oldCreate.Content(), &old) == nil && old.Type != nil {
		content["type"] = *old.Type
	}
	if target.PrivilegedCreators && len(req.AdditionalCreators) > 0 {
		content["additional_creators"] = req.AdditionalCreators
	}
	b, _ := json.Marshal(content)
	return b
}

// lastEventID is one of the room's newest events ("" if unknown), for the
// predecessor's event_id.
func (a *API) lastEventID(ctx context.Context, roomID string) string {
	ids, err := a.Rooms.ForwardExtremities(ctx, roomID)
	if err != nil || len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// creatorsOf lists the creators of a v12 room, who have infinite power
// there; earlier versions' creators are ordinary users with levels.
func creatorsOf(create *mxcore.PDU) []string {
	if !create.Version().PrivilegedCreators {
		return nil
	}
	var c struct {
		AdditionalCreators []string `json:"additional_creators"`
	}
	_ = json.Unmarshal(create.Content(), &c)
	return append([]string{create.Sender()}, c.AdditionalCreators...)
}

// retireOldRoom moves the aliases and the directory listing to the new
// room, tombstones the old one and restricts its power levels.
func (a *API) retireOldRoom(ctx context.Context, oldID, newID, userID string, old upgradedState) error {
	if err := a.Store.MoveAliases(ctx, oldID, newID); err != nil {
		return err
	}
	if old.published {
		if err := a.Store.SetRoomPublished(ctx, newID, true); err != nil {
			return err
		}
		if err := a.Store.SetRoomPublished(ctx, oldID, false); err != nil {
			return err
		}
	}
	tombstone, _ := json.Marshal(map[string]string{"body": "This room has been replaced", "replacement_room": newID})
	if err := a.sendStateAs(ctx, oldID, userID, "m.room.tombstone", tombstone); err != nil {
		return err
	}
	// The old room's canonical alias now names an alias of the new room.
	if a.hasCanonicalAlias(old) {
		a.bestEffort(a.sendStateAs(ctx, oldID, userID, "m.room.canonical_alias", []byte(`{}`)), "clear the old room's canonical alias")
	}
	if old.powerLevels != nil {
		restricted := restrictedPowerLevels(parsePowerLevels(old.powerLevels.Content()))
		a.bestEffort(a.sendStateAs(ctx, oldID, userID, "m.room.power_levels", restricted.content()), "restrict the old room's power levels")
	}
	return nil
}

func (a *API) hasCanonicalAlias(old upgradedState) bool {
	for _, ev := range old.transfer {
		if ev.Type() == "m.room.canonical_alias" {
			return true
		}
	}
	return false
}

func (a *API) sendStateAs(ctx context.Context, roomID, sender, typ string, content []byte) error {
	empty := ""
	_, err := a.Rooms.SendEvent(ctx, roomserver.EventRequest{RoomID: roomID, Sender: sender, Type: typ, StateKey: &empty, Content: content})
	return roomError(err)
}

// bestEffort logs the failure of an upgrade step the spec makes optional
// ("if possible"): the upgrade itself has happened by then.
func (a *API) bestEffort(err error, what string) {
	if err != nil {
		slog.Warn("room upgrade: could not "+what, "err", err)
	}
}
