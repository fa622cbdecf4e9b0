package roomserver

import (
	"context"
	"encoding/json"
	"errors"
)

// UpdateJoinedMember sends a new m.room.member event for a joined local
// user whose content is their current member event's content changed by
// update (a profile change). The membership check, the read of the old
// content and the send all happen under the room's write lock, so a leave
// that lands concurrently is never undone by a stale "join". Nothing is
// sent (sent false) if the user is not joined or update reports no
// change. Refusals by the auth rules come back as *AuthError.
func (rs *RoomServer) UpdateJoinedMember(ctx context.Context, roomID, userID string, update func(content map[string]any) bool) (eventID string, sent bool, err error) {
	release, err := rs.locks.acquire(ctx, roomID)
	if err != nil {
		return "", false, err
	}
	defer release()
	room, err := rs.roomLocked(ctx, roomID)
	if err != nil {
		return "", false, err
	}
	ev, err := rs.stateEventIn(ctx, room.current, mRoomMember, userID)
	if errors.Is(err, ErrNoStateEvent) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var content map[string]any
	if err := json.Unmarshal(ev.Content(), &content); err != nil {
		return "", false, err
	}
	if content["membership"] != "join" || !update(content) {
		return "", false, nil
	}
	raw, err := json.Marshal(content)
	if err != nil {
		return "", false, err
	}
	stateKey := userID
	pdu, err := rs.buildOnRoom(ctx, room, EventRequest{RoomID: roomID, Sender: userID, Type: mRoomMember, StateKey: &stateKey, Content: raw})
	if err != nil {
		return "", false, err
	}
	results, err := rs.persistLocked(ctx, room, []InputEvent{{PDU: pdu, Origin: OriginLocal, fresh: true}}, true)
	if err != nil {
		return "", false, err
	}
	return results[0].EventID, true, nil
}
