package roomserver

import (
	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// checkCreate is rule 1: the m.room.create event, checked on its own.
func checkCreate(ev Event) error {
	rv := ev.Version()
	if len(ev.PrevEventIDs()) > 0 { // 1.1
		return authReject(RuleCreatePrevEvents, "m.room.create must not have prev_events")
	}
	if err := checkCreateRoomID(ev, rv); err != nil { // 1.2
		return err
	}
	content := authContent(ev)
	if v := authField(content, "room_version"); v.Exists() { // 1.3
		if _, known := mxcore.GetRoomVersion(v.Str); v.Type != gjson.String || !known {
			return authReject(RuleCreateRoomVersion, "room_version %s is not a recognised version", v.Raw)
		}
	}
	if !rv.ImplicitRoomCreator && !authField(content, "creator").Exists() { // 1.4, v1–10
		return authReject(RuleCreateNoCreator, "m.room.create has no creator")
	}
	if rv.PrivilegedCreators { // 1.4, v12
		return checkAdditionalCreators(authField(content, "additional_creators"))
	}
	return nil
}

// checkCreateRoomID is rule 1.2: up to v11 the room ID's server must be the
// sender's; from v12 the room ID is derived from the create event, which
// therefore must not carry one. The raw JSON is consulted because a parsed
// v12 event may report the derived ID from RoomID().
func checkCreateRoomID(ev Event, rv mxcore.RoomVersion) error {
	if rv.RoomIDFromCreateEvent {
		if authJSON(ev.JSON()).Get("room_id").Exists() {
			return authReject(RuleCreateHasRoomID, "m.room.create must not have a room_id in this room version")
		}
		return nil
	}
	if d := authDomain(ev.RoomID()); d == "" || d != authDomain(ev.Sender()) {
		return authReject(RuleCreateRoomIDDomain, "room ID %s is not on the sender's server", ev.RoomID())
	}
	return nil
}

// checkAdditionalCreators: if present, an array of user IDs that pass the
// validation applied to sender.
func checkAdditionalCreators(v gjson.Result) error {
	if !v.Exists() {
		return nil
	}
	if !v.IsArray() {
		return authReject(RuleCreateAdditionalCreators, "additional_creators is not an array")
	}
	for _, u := range v.Array() {
		if u.Type != gjson.String || !authValidUserID(u.Str) {
			return authReject(RuleCreateAdditionalCreators, "additional_creators entry %s is not a valid user ID", u.Raw)
		}
	}
	return nil
}

// checkCreateEventOfRoom requires the room's create event: among the auth
// events up to v11 (rule 2.4), and from v12 as the event the room ID names
// (rule 2: "!" plus the create event's ID without its "$").
func checkCreateEventOfRoom(ev Event, c *authContext) error {
	if c.create == nil {
		if c.rv.RoomIDFromCreateEvent {
			return authReject(RuleRoomIDNotCreateID, "room ID %s names no known m.room.create event", ev.RoomID())
		}
		return authReject(RuleNoCreateEvent, "no m.room.create event in the room state")
	}
	if c.rv.RoomIDFromCreateEvent && !roomIDMatchesCreate(ev.RoomID(), c.create.EventID()) {
		return authReject(RuleRoomIDNotCreateID, "room ID %s is not derived from create event %s", ev.RoomID(), c.create.EventID())
	}
	return nil
}

func roomIDMatchesCreate(roomID, createID string) bool {
	return len(roomID) > 1 && len(createID) > 1 && roomID[0] == '!' && createID[0] == '$' && roomID[1:] == createID[1:]
}

// checkFederate is rule 3 (v12: 4): a room created with m.federate false
// only admits events from the creator's server.
func checkFederate(ev Event, c *authContext) error {
	f := authField(authContent(c.create), "m.federate")
	if f.Type == gjson.False && authDomain(ev.Sender()) != authDomain(c.create.Sender()) {
		return authReject(RuleNotFederated, "room does not federate and sender is on another server")
	}
	return nil
}

// creator is the user the first-join rule (see memberCheck.join) admits: the
// content's creator up to v10, the create event's sender from v11.
func (c *authContext) creator() string {
	if c.rv.ImplicitRoomCreator {
		return c.create.Sender()
	}
	s, _ := authString(authContent(c.create), "creator")
	return s
}

// authCreatorsOf lists the v12 room creators: the create event's sender plus
// any additional_creators.
func authCreatorsOf(create Event) []string {
	if create == nil {
		return nil
	}
	out := []string{create.Sender()}
	if extra := authField(authContent(create), "additional_creators"); extra.IsArray() {
		for _, u := range extra.Array() {
			if u.Type == gjson.String {
				out = append(out, u.Str)
			}
		}
	}
	return out
}

func (c *authContext) isCreator(user string) bool {
	for _, u := range c.creators {
		if u == user {
			return true
		}
	}
	return false
}
