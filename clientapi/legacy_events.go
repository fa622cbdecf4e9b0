package clientapi

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// GET /events (old_sync.yaml) and GET /events?room_id= (peeking_events.yaml)
// are the deprecated event stream: the room events after a token, in
// stream order, long-polling on the same notifier as /sync. Their tokens
// are sync tokens: /events moves only the room events position, so a
// token from /sync or /initialSync works here, and one from here works as
// /sync's since (the other streams resume from where the token had them).

// Bounds of one /events answer.
const (
	maxEventsChunk = 100
	// maxEventsNarrowing bounds the reads that look for the oldest events
	// after the token when a room has more than maxEventsChunk of them;
	// each read at least halves the range, so this covers any range of
	// stream positions up to 2^64.
	maxEventsNarrowing = 64
)

// eventsResponse is the body of GET /events.
type eventsResponse struct {
	Start string        `json:"start"`
	End   string        `json:"end"`
	Chunk []ClientEvent `json:"chunk"`
}

// eventsRequest is a parsed /events query.
type eventsRequest struct {
	userID  string
	roomID  string // the room peeked into, or ""
	from    syncToken
	hasFrom bool
	timeout time.Duration
}

func parseEventsRequest(r *http.Request) (eventsRequest, error) {
	req := eventsRequest{userID: roomCaller(r).UserID}
	q := r.URL.Query()
	if from := q.Get("from"); from != "" {
		tok, err := parseSyncToken(from)
		if err != nil {
			return req, mxcore.InvalidParam("from is not a token of this server")
		}
		req.from, req.hasFrom = tok, true
	}
	var err error
	if req.timeout, err = timeoutParam(q); err != nil {
		return req, err
	}
	if _, has := q["room_id"]; has {
		req.roomID = q.Get("room_id")
		if _, err := mxcore.ParseRoomID(req.roomID); err != nil {
			return req, mxcore.InvalidParam("room_id is not a room ID")
		}
	}
	return req, nil
}

// events implements GET /events, with or without room_id.
func (s *syncServer) events(r *http.Request) (any, error) {
	req, err := parseEventsRequest(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if req.roomID != "" {
		if err := s.api.mayPeek(ctx, req.roomID, req.userID); err != nil {
			return nil, err
		}
	}
	s.closeOnShutdown(r)
	start := req.from
	if !req.hasFrom {
		if start, err = s.positions(ctx); err != nil {
			return nil, err
		}
	}
	evs, end, err := s.waitForEvents(ctx, req, start)
	if err != nil {
		return nil, err
	}
	chunk, err := s.api.storedToClient(ctx, evs)
	if err != nil {
		return nil, err
	}
	return eventsResponse{Start: start.String(), End: end.String(), Chunk: chunk}, nil
}

// waitForEvents reads the events after start and, while there are none,
// waits on the notifier until the timeout. end is start moved past what
// was read.
func (s *syncServer) waitForEvents(ctx context.Context, req eventsRequest, start syncToken) ([]storage.StoredEvent, syncToken, error) {
	deadline := time.Now().Add(req.timeout)
	end := start
	for {
		upTo, err := s.positions(ctx)
		if err != nil {
			return nil, end, err
		}
		// A token from beyond the stream is read as "now".
		end.Events = min(end.Events, upTo.Events)
		evs, pos, followed, err := s.eventsAfter(ctx, req, end.Events, upTo.Events)
		end.Events = pos
		remaining := time.Until(deadline)
		if err != nil || len(evs) > 0 || remaining <= 0 {
			return evs, end, err
		}
		// Every stream but room events counts as answered, so that a
		// typing notice does not wake this wait over and over.
		since := upTo
		since.Events = pos
		woken, err := s.notifier.wait(ctx, req.userID, followed, since, remaining)
		if errors.Is(err, errTooManyWaiters) {
			return nil, end, limitExceeded(time.Second)
		}
		if err != nil || !woken {
			return nil, end, err
		}
	}
}

// mayPeek lets a user read a room's events without joining if the room
// is world readable; members may too.
func (a *API) mayPeek(ctx context.Context, roomID, userID string) error {
	membership, _, err := a.Rooms.Membership(ctx, roomID, userID)
	if errors.Is(err, roomserver.ErrUnknownRoom) {
		return notInRoom()
	}
	if err != nil {
		return err
	}
	if membership == storage.MembershipJoin || a.worldReadable(ctx, roomID) {
		return nil
	}
	return mxcore.Forbidden("The room is not world readable and you are not a member of it")
}

// eventsAfter reads up to maxEventsChunk events the user may see in
// (from, upTo], oldest first, from the rooms the request covers; pos is
// how far it read, and followed are the rooms a wait follows.
func (s *syncServer) eventsAfter(ctx context.Context, req eventsRequest, from, upTo int64) ([]storage.StoredEvent, int64, []string, error) {
	bounds, err := s.eventRooms(ctx, req, from, upTo)
	if err != nil || from >= upTo || len(bounds) == 0 {
		return nil, upTo, followedRooms(bounds, upTo), err
	}
	evs, pos, err := s.oldestAfter(ctx, bounds, from, upTo)
	if err != nil {
		return nil, from, nil, err
	}
	visible, err := s.visibleEvents(ctx, req.userID, evs, bounds)
	return visible, pos, followedRooms(bounds, upTo), err
}

// roomBound is how far /events may read a room: up to the user's leave
// for a room they left, and only their own member events in a room they
// are invited to.
type roomBound struct {
	upTo          int64
	ownMembership bool
}

// eventRooms is the rooms whose events the request reads, with their
// bounds: the peeked room, or the user's joined and invited rooms and
// those they left or were banned from after from.
func (s *syncServer) eventRooms(ctx context.Context, req eventsRequest, from, upTo int64) (map[string]roomBound, error) {
	if req.roomID != "" {
		return map[string]roomBound{req.roomID: {upTo: upTo}}, nil
	}
	byMembership, err := s.store.RoomsByMembership(ctx, req.userID)
	if err != nil {
		return nil, err
	}
	out := map[string]roomBound{}
	for _, roomID := range byMembership[storage.MembershipJoin] {
		out[roomID] = roomBound{upTo: upTo}
	}
	for _, roomID := range byMembership[storage.MembershipInvite] {
		out[roomID] = roomBound{upTo: upTo, ownMembership: true}
	}
	left := append(slices.Clone(byMembership[storage.MembershipLeave]), byMembership[storage.MembershipBan]...)
	v := &syncView{s: s, req: syncRequest{userID: req.userID}}
	members, err := v.memberEvents(ctx, left, v.fromMembershipTable)
	if err != nil {
		return nil, err
	}
	for roomID, ev := range members {
		if ev.StreamPos > from {
			out[roomID] = roomBound{upTo: min(ev.StreamPos, upTo)}
		}
	}
	return out, nil
}

// followedRooms are the rooms a wait follows: those readable to the end.
// The user's own member events wake it whatever the room.
func followedRooms(bounds map[string]roomBound, upTo int64) []string {
	out := make([]string, 0, len(bounds))
	for roomID, b := range bounds {
		if b.upTo == upTo {
			out = append(out, roomID)
		}
	}
	return out
}

// oldestAfter reads the oldest events in (from, upTo] of the rooms, up to
// maxEventsChunk; pos is the position of the last one, or upTo when it
// read them all. The store gives each room's newest events of a range,
// so while a room has more than fit, the range shrinks.
func (s *syncServer) oldestAfter(ctx context.Context, bounds map[string]roomBound, from, upTo int64) ([]storage.StoredEvent, int64, error) {
	rooms := make([]string, 0, len(bounds))
	for roomID := range bounds {
		rooms = append(rooms, roomID)
	}
	for range maxEventsNarrowing {
		tls, err := s.store.RoomEventsSince(ctx, from, upTo, rooms, maxEventsChunk)
		if err != nil {
			return nil, from, err
		}
		cut := upTo
		for _, tl := range tls {
			if tl.Limited && len(tl.Events) > 0 {
				cut = min(cut, tl.Events[0].StreamPos-1)
			}
		}
		if cut == upTo {
			return firstInStreamOrder(tls, bounds, upTo)
		}
		upTo = max(from+1, min(cut, from+(upTo-from)/2))
	}
	// Unreachable for real positions: each read halves the range.
	return nil, from, errors.New("clientapi: /events could not narrow its range")
}

// firstInStreamOrder merges the rooms' events within their bounds into
// stream order and keeps the first maxEventsChunk.
func firstInStreamOrder(tls []storage.RoomTimeline, bounds map[string]roomBound, upTo int64) ([]storage.StoredEvent, int64, error) {
	var all []storage.StoredEvent
	for _, tl := range tls {
		for _, ev := range tl.Events {
			if ev.StreamPos <= bounds[tl.RoomID].upTo {
				all = append(all, ev)
			}
		}
	}
	slices.SortFunc(all, func(a, b storage.StoredEvent) int { return cmp.Compare(a.StreamPos, b.StreamPos) })
	if len(all) > maxEventsChunk {
		all = all[:maxEventsChunk]
		return all, all[len(all)-1].StreamPos, nil
	}
	return all, upTo, nil
}

// visibleEvents keeps the events the user may see: by history
// visibility, in rooms they are invited to only their own member events,
// and, as /sync does, no timeline events or invites of users they
// ignore.
func (s *syncServer) visibleEvents(ctx context.Context, userID string, evs []storage.StoredEvent, bounds map[string]roomBound) ([]storage.StoredEvent, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	ignored := s.api.ignoredUsers(ctx, userID)
	out := make([]storage.StoredEvent, 0, len(evs))
	for _, ev := range evs {
		own := ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == userID
		invitedOnly := bounds[ev.RoomID].ownMembership
		if invitedOnly && (!own || ignored[ev.Sender]) || ev.StateKey == nil && ignored[ev.Sender] {
			continue
		}
		// A user always sees their own membership changes (an invite
		// comes before they may see anything else of the room).
		visible := own
		if !own {
			var err error
			if visible, err = s.rooms.VisibleToUser(ctx, ev.EventID, userID); err != nil {
				return nil, err
			}
		}
		if visible {
			out = append(out, ev)
		}
	}
	return out, nil
}
