package clientapi

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/roomserver"
)

// The room summary of /sync's joined rooms (spec: RoomSummary): member
// counts and the heroes a client names an unnamed room after.

// maxHeroes is how many heroes the spec asks for.
const maxHeroes = 5

// addRoomSummary fills room.Summary when the client may not know it: on a
// full state (initial sync, full_state, a fresh join) and when members
// changed since the token (a member event in the state or timeline).
// Otherwise the counts are unchanged and the spec lets them be omitted.
// A failure leaves the summary empty rather than failing the sync.
func (v *syncView) addRoomSummary(ctx context.Context, roomID string, mode stateMode, room *joinedRoom) {
	if mode != stateFull && !hasMemberEvent(room) {
		return
	}
	if err := v.fillRoomSummary(ctx, roomID, room); err != nil {
		slog.WarnContext(ctx, "clientapi: room summary for /sync", "room_id", roomID, "err", err)
	}
}

func hasMemberEvent(room *joinedRoom) bool {
	for _, list := range [][]ClientEvent{room.State.Events, room.Timeline.Events} {
		for _, ev := range list {
			if ev.Type == "m.room.member" {
				return true
			}
		}
	}
	return false
}

func (v *syncView) fillRoomSummary(ctx context.Context, roomID string, room *joinedRoom) error {
	sum, err := v.s.summaries.summary(ctx, roomID, v.req.userID)
	if err != nil {
		return err
	}
	room.Summary["m.joined_member_count"] = sum.Joined
	room.Summary["m.invited_member_count"] = sum.Invited
	named, err := v.roomIsNamed(ctx, roomID)
	if err != nil || named {
		return err
	}
	room.Summary["m.heroes"] = sum.Heroes
	if v.req.filter.state().lazyMembers() {
		return v.addHeroMembers(ctx, roomID, sum.Heroes, room)
	}
	return nil
}

// roomIsNamed reports whether the room has a non-empty m.room.name or
// m.room.canonical_alias: heroes are only required without both.
func (v *syncView) roomIsNamed(ctx context.Context, roomID string) (bool, error) {
	for _, slot := range []struct{ typ, field string }{{"m.room.name", "name"}, {"m.room.canonical_alias", "alias"}} {
		ev, err := v.s.rooms.CurrentStateEvent(ctx, roomID, slot.typ, "")
		if errors.Is(err, roomserver.ErrNoStateEvent) {
			continue
		}
		if err != nil {
			return false, err
		}
		if gjson.GetBytes(ev.Content(), slot.field).String() != "" {
			return true, nil
		}
	}
	return false, nil
}

// addHeroMembers: a lazy-loading client must get the heroes' member
// events in state (spec), unless the response already carries them. They
// are the current ones, which is what the client names the room by.
func (v *syncView) addHeroMembers(ctx context.Context, roomID string, heroes []string, room *joinedRoom) error {
	if !v.req.filter.state().allowsType("m.room.member") {
		return nil
	}
	present := map[string]bool{}
	for _, list := range [][]ClientEvent{room.State.Events, room.Timeline.Events} {
		for _, ev := range list {
			if ev.Type == "m.room.member" && ev.StateKey != nil {
				present[*ev.StateKey] = true
			}
		}
	}
	for _, hero := range heroes {
		if present[hero] {
			continue
		}
		pdu, err := v.s.rooms.CurrentStateEvent(ctx, roomID, "m.room.member", hero)
		if errors.Is(err, roomserver.ErrNoStateEvent) {
			continue
		}
		if err != nil {
			return err
		}
		ev := NewClientEvent(pdu, ClientEventOptions{Now: v.nowMs})
		ev.RoomID = ""
		room.State.Events = append(room.State.Events, ev)
	}
	return nil
}
