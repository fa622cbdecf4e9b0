package clientapi

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// GET /initialSync (old_sync.yaml) and GET /rooms/{roomId}/initialSync
// (room_initial_sync.yaml): a snapshot of the user's rooms, or of one
// room, with each room's latest messages (tokens usable with /messages),
// its state and the user's data about it. end is a sync token, for
// /events or /sync.

// maxInitialSyncRooms bounds the rooms of one /initialSync answer.
const maxInitialSyncRooms = 1000

type initialSyncResponse struct {
	End         string     `json:"end"`
	Presence    []any      `json:"presence"`
	Rooms       []roomInfo `json:"rooms"`
	AccountData []any      `json:"account_data"`
}

// roomInfo is the RoomInfo of both endpoints.
type roomInfo struct {
	RoomID      string           `json:"room_id"`
	Membership  string           `json:"membership,omitempty"`
	Invite      *ClientEvent     `json:"invite,omitempty"`
	Messages    *paginationChunk `json:"messages,omitempty"`
	State       []ClientEvent    `json:"state,omitempty"`
	Visibility  string           `json:"visibility,omitempty"`
	AccountData []any            `json:"account_data"`
	// Presence (of the room's members) and Receipts are served by the
	// room endpoint and, receipts, for the joined rooms of /initialSync.
	Presence []any `json:"presence,omitempty"`
	Receipts []any `json:"receipts,omitempty"`
}

type paginationChunk struct {
	Start string        `json:"start,omitempty"`
	End   string        `json:"end"`
	Chunk []ClientEvent `json:"chunk"`
}

// roomView says what of a room a user sees: the room now (members and
// peekers of world-readable rooms), or the room at their leave (at).
type roomView struct {
	roomID     string
	membership string
	at         *storage.StoredEvent // the leave or ban, nil for now
}

// initialSync implements GET /initialSync.
func (s *syncServer) initialSync(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := limitParam(q, defaultTimelineLimit)
	if err != nil {
		return nil, err
	}
	archived, err := boolParam(q, "archived")
	if err != nil {
		return nil, err
	}
	ctx, sess := r.Context(), roomCaller(r)
	now, err := s.positions(ctx)
	if err != nil {
		return nil, err
	}
	views, members, err := s.userRoomViews(ctx, sess.UserID, archived)
	if err != nil {
		return nil, err
	}
	streams, err := s.initialStreams(ctx, sess, views, now)
	if err != nil {
		return nil, err
	}
	resp := initialSyncResponse{End: now.String(), Presence: streams.Presence.Events, AccountData: streams.AccountData.Events, Rooms: []roomInfo{}}
	for _, view := range views {
		info, err := s.roomInfo(ctx, sess.UserID, view, members[view.roomID], limit, now)
		if err != nil {
			return nil, err
		}
		addRoomStreams(&info, streams, false)
		resp.Rooms = append(resp.Rooms, info)
	}
	return resp, nil
}

// userRoomViews lists the user's joined and invited rooms and, if
// archived, those they left or were banned from and did not forget,
// with the member events of the latter two.
func (s *syncServer) userRoomViews(ctx context.Context, userID string, archived bool) ([]roomView, map[string]storage.StoredEvent, error) {
	byMembership, err := s.store.RoomsByMembership(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	var views []roomView
	var others []string
	for _, m := range []string{storage.MembershipJoin, storage.MembershipInvite, storage.MembershipLeave, storage.MembershipBan} {
		rooms := byMembership[m]
		if m == storage.MembershipLeave || m == storage.MembershipBan {
			if !archived {
				continue
			}
			if rooms, err = s.api.withoutForgotten(ctx, userID, rooms); err != nil {
				return nil, nil, err
			}
		}
		for _, roomID := range rooms {
			if len(views) == maxInitialSyncRooms {
				break
			}
			views = append(views, roomView{roomID: roomID, membership: m})
			if m != storage.MembershipJoin {
				others = append(others, roomID)
			}
		}
	}
	v := &syncView{s: s, req: syncRequest{userID: userID}}
	members, err := v.memberEvents(ctx, others, v.fromMembershipTable)
	if err != nil {
		return nil, nil, err
	}
	for i, view := range views {
		if ev, ok := members[view.roomID]; ok && view.membership != storage.MembershipInvite && view.membership != storage.MembershipJoin {
			views[i].at = &ev
		}
	}
	return views, members, nil
}

// initialStreams reads, from their start, the streams the endpoints
// show: account data, presence and receipts.
func (s *syncServer) initialStreams(ctx context.Context, sess Session, views []roomView, upTo syncToken) (*syncResponse, error) {
	resp := newSyncResponse(upTo)
	var current []string
	for _, view := range views {
		switch {
		case view.at != nil:
			// Account data of left rooms lands in their leave entries.
			resp.Rooms.Leave[view.roomID] = &leftRoom{State: &syncList[ClientEvent]{Events: []ClientEvent{}}, AccountData: syncList[any]{Events: []any{}}}
		case view.membership != storage.MembershipInvite:
			current = append(current, view.roomID)
		}
	}
	for _, id := range []streamID{streamAccountData, streamPresence, streamReceipts} {
		st := s.streams[id]
		if st == nil {
			continue
		}
		read := &streamRead{UserID: sess.UserID, DeviceID: sess.DeviceID, UpTo: upTo.Streams[id], Initial: true, Joined: current}
		if err := st.add(ctx, read, resp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// addRoomStreams copies the room's account data and receipts (and, for
// the room endpoint, presence) from streams into info.
func addRoomStreams(info *roomInfo, streams *syncResponse, withPresence bool) {
	info.AccountData = []any{}
	if jr := streams.Rooms.Join[info.RoomID]; jr != nil {
		info.AccountData = jr.AccountData.Events
		info.Receipts = jr.Ephemeral.Events
	}
	if lr := streams.Rooms.Leave[info.RoomID]; lr != nil {
		info.AccountData = lr.AccountData.Events
	}
	if withPresence {
		info.Presence = streams.Presence.Events
	}
}

// roomInfo builds one room's RoomInfo: the invite for an invited user,
// else the messages and state of the view, and whether the room is in
// the public directory.
func (s *syncServer) roomInfo(ctx context.Context, userID string, view roomView, member storage.StoredEvent, limit int, now syncToken) (roomInfo, error) {
	info := roomInfo{RoomID: view.roomID, Membership: view.membership, AccountData: []any{}}
	if view.membership == storage.MembershipInvite && member.EventID != "" {
		invite, err := s.api.storedToClient(ctx, []storage.StoredEvent{member})
		if err == nil && len(invite) == 1 {
			info.Invite = &invite[0]
		}
		return info, err
	}
	var err error
	if info.Messages, err = s.roomMessages(ctx, userID, view, limit, now); err != nil {
		return info, err
	}
	if info.State, err = s.roomState(ctx, view); err != nil {
		return info, err
	}
	published, err := s.api.Store.RoomPublished(ctx, view.roomID)
	info.Visibility = "private"
	if published {
		info.Visibility = "public"
	}
	return info, err
}

// roomMessages pages back from the view's end: the room's end, or just
// after the user's leave (which is the last thing they see).
func (s *syncServer) roomMessages(ctx context.Context, userID string, view roomView, limit int, now syncToken) (*paginationChunk, error) {
	from, end := storage.TopoMax, now.String()
	if view.at != nil {
		from, end = view.at.Topo, topoToken(view.at.Topo)
		from.Stream++ // tokens are exclusive: the leave itself is shown
	}
	p, err := s.api.paginate(ctx, view.roomID, userID, from, storage.TopoMin, limit, true, nil)
	if err != nil {
		return nil, err
	}
	slices.Reverse(p.events)
	chunk, err := s.api.storedToClient(ctx, p.events)
	if err != nil {
		return nil, err
	}
	out := &paginationChunk{End: end, Chunk: chunk}
	if p.more {
		out.Start = topoToken(p.next)
	}
	return out, nil
}

// roomState is the state of the view: current, or after the leave.
func (s *syncServer) roomState(ctx context.Context, view roomView) ([]ClientEvent, error) {
	var entries []storage.StateEntry
	var err error
	if view.at != nil {
		entries, err = s.rooms.StateAt(ctx, view.at.EventID, roomserver.StateAfterEvent)
	} else {
		entries, err = s.rooms.CurrentState(ctx, view.roomID)
	}
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.EventID
	}
	return s.api.clientEvents(ctx, ids)
}

// roomInitialSync implements GET /rooms/{roomId}/initialSync.
func (s *syncServer) roomInitialSync(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	ctx, sess := r.Context(), roomCaller(r)
	view, member, err := s.roomViewFor(ctx, roomID, sess.UserID)
	if err != nil {
		return nil, err
	}
	now, err := s.positions(ctx)
	if err != nil {
		return nil, err
	}
	streams, err := s.initialStreams(ctx, sess, []roomView{view}, now)
	if err != nil {
		return nil, err
	}
	info, err := s.roomInfo(ctx, sess.UserID, view, member, defaultTimelineLimit, now)
	if err != nil {
		return nil, err
	}
	addRoomStreams(&info, streams, view.at == nil)
	return info, nil
}

// roomViewFor decides what the user may see of one room: members see it
// now, former members as they left it (unless they forgot it), anyone
// else a world-readable room now; everyone else is refused.
func (s *syncServer) roomViewFor(ctx context.Context, roomID, userID string) (roomView, storage.StoredEvent, error) {
	membership, memberID, err := s.rooms.Membership(ctx, roomID, userID)
	if errors.Is(err, roomserver.ErrUnknownRoom) {
		return roomView{}, storage.StoredEvent{}, notInRoom()
	}
	if err != nil {
		return roomView{}, storage.StoredEvent{}, err
	}
	view := roomView{roomID: roomID, membership: membership}
	switch membership {
	case storage.MembershipJoin:
		return view, storage.StoredEvent{}, nil
	case storage.MembershipLeave, storage.MembershipBan:
		if err := s.api.refuseForgotten(ctx, roomID, userID, membership, memberID); err != nil {
			return view, storage.StoredEvent{}, err
		}
		evs, err := s.store.Events(ctx, []string{memberID})
		if err != nil || len(evs) == 0 {
			return view, storage.StoredEvent{}, errOrNotInRoom(err)
		}
		view.at = &evs[0]
		return view, evs[0], nil
	}
	if !s.api.worldReadable(ctx, roomID) {
		return view, storage.StoredEvent{}, notInRoom()
	}
	// A peeker (or invitee) of a world-readable room sees it as it is
	// now; knock is not a membership this endpoint can name.
	if membership != storage.MembershipInvite {
		view.membership = ""
	}
	return view, storage.StoredEvent{}, nil
}
