package clientapi

import "context"

// A syncStream is one of /sync's streams besides room events: typing,
// receipts, account data, presence, to-device, device lists. The room
// events stream is built in sync_build.go; every other stream plugs in
// here with its own position, so an incremental sync reads only what
// moved past each position (DESIGN.md, "Sync as several streams").
//
// A stream that changes must tell the notifier (syncServer.notify) after
// its change is durable, with the new position and the room or user it
// concerns, so that long-polls wake at once.
type syncStream interface {
	// position is the stream's current position: the highest position
	// whose data is durable and readable. It must be cheap (an in-memory
	// counter); every /sync asks it.
	position(ctx context.Context) (int64, error)
	// add puts into resp what moved in (read.From, read.UpTo] that
	// concerns read.UserID (and read.DeviceID). read.From is 0 for an
	// initial sync, a full_state sync, or a token from before a restart
	// of an in-memory stream: the stream then sends its current state.
	add(ctx context.Context, read *streamRead, resp *syncResponse) error
}

// streamRead is what a syncStream is asked to add to one response.
type streamRead struct {
	UserID   string
	DeviceID string
	From     int64
	UpTo     int64
	// Initial is true for an initial or full_state sync.
	Initial bool
	// Joined lists the rooms the user is joined to that the filter allows.
	Joined []string
	Filter syncFilter

	joinedSet map[string]struct{} // Joined as a set, built on first use
}

// addStream makes st serve the stream id. Called while the API is being
// mounted, before /sync serves.
func (s *syncServer) addStream(id streamID, st syncStream) { s.streams[id] = st }

// notify tells waiting long-polls that stream id reached pos for roomID
// (its members' long-polls wake) or userID (that user's wake); either may
// be empty.
func (s *syncServer) notify(id streamID, pos int64, roomID, userID string) {
	s.notifier.notify(notice{stream: id, pos: pos, roomID: roomID, user: userID})
}

// positions reads every stream's current position: the upper bound of
// one sync's read.
func (s *syncServer) positions(ctx context.Context) (syncToken, error) {
	var tok syncToken
	var err error
	if tok.Events, err = s.store.MaxStreamPosition(ctx); err != nil {
		return tok, err
	}
	for id, st := range s.streams {
		if st == nil {
			continue
		}
		if tok.Streams[id], err = st.position(ctx); err != nil {
			return tok, err
		}
	}
	return tok, nil
}

// addStreams asks each stream for what moved since the request's token.
// joined rooms the user only just joined get their stream's current
// state, as they get their full room state.
func (v *syncView) addStreams(ctx context.Context, resp *syncResponse, joined []string) error {
	for id, st := range v.s.streams {
		if st == nil {
			continue
		}
		read := &streamRead{
			UserID: v.req.userID, DeviceID: v.req.deviceID,
			UpTo: v.upToAll.Streams[id], Initial: !v.incremental(),
			Joined: joined, Filter: v.req.filter,
		}
		if since := v.req.since.Streams[id]; v.incremental() && since <= read.UpTo {
			read.From = since
		}
		if err := st.add(ctx, read, resp); err != nil {
			return err
		}
	}
	return nil
}

// joinedRoom returns resp's entry for a joined room, creating an empty one
// when the room has nothing else to show (a stream such as typing may be
// the only news of it).
func (r *syncResponse) joinedRoom(roomID string) *joinedRoom {
	jr := r.Rooms.Join[roomID]
	if jr == nil {
		jr = newJoinedRoom([]ClientEvent{}, syncTimeline{Events: []ClientEvent{}})
		r.Rooms.Join[roomID] = jr
	}
	return jr
}

// isJoined reports whether read's user is joined to roomID (as the
// filter allows); streams use it to keep to the user's rooms.
func (read *streamRead) isJoined(roomID string) bool {
	if read.joinedSet == nil {
		read.joinedSet = make(map[string]struct{}, len(read.Joined))
		for _, r := range read.Joined {
			read.joinedSet[r] = struct{}{}
		}
	}
	_, ok := read.joinedSet[roomID]
	return ok
}
