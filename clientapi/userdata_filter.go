package clientapi

// The filter parts the per-user streams apply: account_data, presence,
// room.account_data and room.ephemeral, by event type (and by user for
// presence, by room for the room parts). Their limits are not applied:
// each stream bounds its own reads.

// globalAccountDataAllowed applies the top-level account_data filter.
func (f syncFilter) globalAccountDataAllowed(typ string) bool {
	ef := f.AccountData
	return ef == nil || listAllows(ef.Types, ef.NotTypes, typ, true)
}

// roomAccountDataAllowed applies room.account_data.
func (f syncFilter) roomAccountDataAllowed(roomID, typ string) bool {
	if f.Room == nil {
		return true
	}
	return typeAndRoomAllowed(f.Room.AccountData, roomID, typ)
}

// ephemeralAllowed applies room.ephemeral.
func (f syncFilter) ephemeralAllowed(roomID, typ string) bool {
	if f.Room == nil {
		return true
	}
	return typeAndRoomAllowed(f.Room.Ephemeral, roomID, typ)
}

// presenceWanted reports whether the presence filter lets m.presence
// through at all.
func (f syncFilter) presenceWanted() bool {
	ef := f.Presence
	return ef == nil || listAllows(ef.Types, ef.NotTypes, "m.presence", true)
}

// presenceAllowed applies the presence filter; its senders are the
// users whose presence it is.
func (f syncFilter) presenceAllowed(userID string) bool {
	ef := f.Presence
	return ef == nil || f.presenceWanted() && listAllows(ef.Senders, ef.NotSenders, userID, false)
}

func typeAndRoomAllowed(ef *roomEventFilter, roomID, typ string) bool {
	return ef == nil || listAllows(ef.Types, ef.NotTypes, typ, true) &&
		listAllows(ef.Rooms, ef.NotRooms, roomID, false)
}
