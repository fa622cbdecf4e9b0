package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// stateMode says how much room state a room's sync entry carries.
type stateMode int

const (
	stateNone  stateMode = iota // the client's state is up to date
	stateDelta                  // the timeline is limited: what changed since the token
	stateFull                   // initial sync, full_state, or the user just joined
	// stateSenders: the client's state is up to date, but it lazy-loads
	// members, so it gets the member events of the timeline's senders.
	// They may repeat ones it has: which members a device was sent is
	// not tracked (include_redundant_members is always in effect).
	stateSenders
)

// syncView is one read of the streams for one request: from since
// (0 for an initial sync) up to upTo.
type syncView struct {
	s     *syncServer
	req   syncRequest
	since int64 // room events position of the token
	upTo  int64 // room events position read up to
	// upToAll holds every stream's position read up to: next_batch.
	upToAll syncToken
	nowMs   int64
	// rooms holds the user's rooms by membership, read once per build.
	rooms map[string][]string
	// ignored holds the users the syncing user ignores (sync_ignored.go).
	ignored map[string]bool
}

// build computes the response up to upTo and the rooms a long-poll
// should follow.
func (s *syncServer) build(ctx context.Context, req syncRequest, upTo syncToken) (*syncResponse, []string, error) {
	v := &syncView{s: s, req: req, upTo: upTo.Events, upToAll: upTo, nowMs: s.api.now().UnixMilli()}
	if req.hasSince {
		// A token from beyond the stream (say, a restored database) is
		// read as "now" rather than as an empty range forever.
		v.since = min(req.since.Events, upTo.Events)
	}
	resp := newSyncResponse(upTo)
	joined, err := v.roomsWith(ctx, storage.MembershipJoin)
	if err != nil {
		return nil, nil, err
	}
	invited, err := v.roomsWith(ctx, storage.MembershipInvite)
	if err != nil {
		return nil, nil, err
	}
	if err := v.addJoined(ctx, resp, joined); err != nil {
		return nil, nil, err
	}
	if err := v.addInvited(ctx, resp, invited); err != nil {
		return nil, nil, err
	}
	if err := v.addRemoteInvites(ctx, resp); err != nil {
		return nil, nil, err
	}
	if err := v.addKnocked(ctx, resp); err != nil {
		return nil, nil, err
	}
	if req.hasSince || req.filter.includeLeave() {
		if err := v.addLeft(ctx, resp); err != nil {
			return nil, nil, err
		}
	}
	if err := v.addStreams(ctx, resp, joined); err != nil {
		return nil, nil, err
	}
	v.s.api.bundleSync(ctx, req.userID, resp) // unsigned.m.relations (relations_bundle.go)
	if err := v.addUnreadCounts(ctx, resp); err != nil {
		return nil, nil, err
	}
	if req.useStateAfter {
		resp.moveStateAfter()
	}
	// A long-poll follows the joined rooms; its user's own member events
	// (invites, joins, leaves elsewhere) wake it whatever room they are in.
	return resp, joined, nil
}

func (v *syncView) incremental() bool { return v.req.hasSince && !v.req.fullState }

// roomsWith lists the user's rooms of one membership the filter allows.
func (v *syncView) roomsWith(ctx context.Context, membership string) ([]string, error) {
	if v.rooms == nil {
		all, err := v.s.store.RoomsByMembership(ctx, v.req.userID)
		if err != nil {
			return nil, err
		}
		v.rooms = all
	}
	rooms := slices.Clone(v.rooms[membership])
	return slices.DeleteFunc(rooms, func(r string) bool { return !v.req.filter.roomAllowed(r) }), nil
}

// memberLookup finds the event setting a user's membership of a room
// ("" if none).
type memberLookup func(ctx context.Context, roomID, userID string) (string, error)

// fromRoomServer reads the roomserver's in-memory current state: cheap
// for the rooms a user is in, which it keeps hot.
func (v *syncView) fromRoomServer(ctx context.Context, roomID, userID string) (string, error) {
	_, id, err := v.s.rooms.Membership(ctx, roomID, userID)
	return id, err
}

// fromMembershipTable reads the membership table: for rooms the user
// left, which the roomserver need not load into its cache to answer.
func (v *syncView) fromMembershipTable(ctx context.Context, roomID, userID string) (string, error) {
	_, id, err := v.s.store.Membership(ctx, roomID, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	return id, err
}

// memberEvents returns the user's current member event in each room,
// keyed by room, for the stream positions of membership changes.
func (v *syncView) memberEvents(ctx context.Context, rooms []string, lookup memberLookup) (map[string]storage.StoredEvent, error) {
	ids := make([]string, 0, len(rooms))
	for _, roomID := range rooms {
		id, err := lookup(ctx, roomID, v.req.userID)
		if err != nil {
			return nil, err
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	evs, err := v.s.store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]storage.StoredEvent, len(evs))
	for _, ev := range evs {
		out[ev.RoomID] = ev
	}
	return out, nil
}

// timelines reads the newest events of rooms in (from, upTo].
func (v *syncView) timelines(ctx context.Context, from, upTo int64, rooms []string) (map[string]storage.RoomTimeline, error) {
	limit := max(v.req.filter.timelineLimit(), 1)
	tls, err := v.s.store.RoomEventsSince(ctx, from, upTo, rooms, limit)
	if err != nil {
		return nil, err
	}
	out := make(map[string]storage.RoomTimeline, len(tls))
	for _, tl := range tls {
		if tl, err = v.fillFilteredTimeline(ctx, from, tl, limit); err != nil {
			return nil, err
		}
		out[tl.RoomID] = tl
	}
	return out, nil
}

// Bounds on reaching back for a filtered timeline: a room of mostly
// filtered-out events must not make one sync read its whole history.
const (
	maxFilteredPages   = 4
	maxFilteredScanned = 1000
	filteredPageSize   = 100
)

// fillFilteredTimeline reaches further back when the timeline filter
// dropped events of a limited page, so the client still gets up to limit
// events it asked for (the filter applies before the limit). The page is
// trimmed to start at the first event the filter keeps, where the
// timeline, and the state before it, begin.
func (v *syncView) fillFilteredTimeline(ctx context.Context, from int64, tl storage.RoomTimeline, limit int) (storage.RoomTimeline, error) {
	filter := v.req.filter.timeline()
	if filter == nil {
		return tl, nil
	}
	kept := v.countKept(tl)
	for page := 0; tl.Limited && kept < limit && page < maxFilteredPages && len(tl.Events) < maxFilteredScanned; page++ {
		older, err := v.s.store.RoomEventsSince(ctx, from, tl.Events[0].StreamPos-1, []string{tl.RoomID}, max(limit, filteredPageSize))
		if err != nil {
			return tl, err
		}
		if len(older) == 0 {
			tl.Limited = false
			break
		}
		tl.Events = append(older[0].Events, tl.Events...)
		tl.Limited = older[0].Limited
		kept = v.countKept(tl)
	}
	return v.trimToKept(tl, limit), nil
}

func (v *syncView) countKept(tl storage.RoomTimeline) int {
	n := 0
	for _, ev := range tl.Events {
		if v.req.filter.timeline().allows(tl.RoomID, ev.Sender, ev.Type) {
			n++
		}
	}
	return n
}

// trimToKept drops the events before the limit-th newest kept one; any
// dropped means the timeline is limited. With fewer kept events than the
// limit, it still drops the hidden events before the first kept one: the
// timeline starts there, so they belong to the state before it (otherwise
// an initial sync of a small room filtered to messages would carry the
// room's creation in neither its state nor its timeline).
func (v *syncView) trimToKept(tl storage.RoomTimeline, limit int) storage.RoomTimeline {
	kept, firstKept := 0, -1
	for i := len(tl.Events) - 1; i >= 0; i-- {
		if !v.req.filter.timeline().allows(tl.RoomID, tl.Events[i].Sender, tl.Events[i].Type) {
			continue
		}
		firstKept = i
		if kept++; kept == limit {
			if i > 0 {
				tl.Events, tl.Limited = tl.Events[i:], true
			}
			return tl
		}
	}
	if firstKept > 0 {
		tl.Events = tl.Events[firstKept:]
	}
	return tl
}

func (v *syncView) addJoined(ctx context.Context, resp *syncResponse, joined []string) error {
	tls, err := v.timelines(ctx, v.since, v.upTo, joined)
	if err != nil {
		return err
	}
	var members map[string]storage.StoredEvent
	if v.incremental() {
		if members, err = v.memberEvents(ctx, joined, v.fromRoomServer); err != nil {
			return err
		}
	}
	for _, roomID := range joined {
		if m, ok := members[roomID]; ok && m.StreamPos > v.upTo {
			continue // joined after this read: the next sync brings it
		}
		tl, moved := tls[roomID]
		mode := v.joinedStateMode(tl, moved, members[roomID])
		if !moved && mode == stateNone {
			continue
		}
		state, timeline, err := v.roomContents(ctx, roomID, tl, mode)
		if err != nil {
			return err
		}
		resp.Rooms.Join[roomID] = newJoinedRoom(state, timeline)
		v.addRoomSummary(ctx, roomID, mode, resp.Rooms.Join[roomID]) // sync_summary.go
	}
	return nil
}

// joinedStateMode: a room the user just joined (their member event is
// after the token) is new to the client and gets its full state.
func (v *syncView) joinedStateMode(tl storage.RoomTimeline, moved bool, member storage.StoredEvent) stateMode {
	switch {
	case !v.incremental():
		return stateFull
	case member.StreamPos > v.since:
		return stateFull
	case moved && tl.Limited:
		return stateDelta
	}
	return stateNone
}

func (v *syncView) addLeft(ctx context.Context, resp *syncResponse) error {
	var left []string
	for _, m := range []string{storage.MembershipLeave, storage.MembershipBan} {
		rooms, err := v.roomsWith(ctx, m)
		if err != nil {
			return err
		}
		left = append(left, rooms...)
	}
	if len(left) == 0 {
		return nil // most users: spares every sync the forgotten rooms' read
	}
	left, err := v.s.api.withoutForgotten(ctx, v.req.userID, left)
	if err != nil {
		return err
	}
	members, err := v.memberEvents(ctx, left, v.fromMembershipTable)
	if err != nil {
		return err
	}
	for _, roomID := range left {
		leave := members[roomID]
		if leave.StreamPos <= v.since || leave.StreamPos > v.upTo {
			continue // left before the token, or after this read
		}
		if err := v.addLeftRoom(ctx, resp, roomID, leave.StreamPos); err != nil {
			return err
		}
	}
	return nil
}

// addLeftRoom shows a left room up to the user's leave event, which is
// the last thing they may see of it.
func (v *syncView) addLeftRoom(ctx context.Context, resp *syncResponse, roomID string, leftAt int64) error {
	tls, err := v.timelines(ctx, v.since, leftAt, []string{roomID})
	if err != nil {
		return err
	}
	tl := tls[roomID]
	mode := stateNone
	if !v.incremental() {
		mode = stateFull
	} else if tl.Limited {
		mode = stateDelta
	}
	state, timeline, err := v.roomContents(ctx, roomID, tl, mode)
	if err != nil {
		return err
	}
	resp.Rooms.Leave[roomID] = &leftRoom{
		State: &syncList[ClientEvent]{Events: state}, Timeline: timeline,
		AccountData: syncList[any]{Events: []any{}},
	}
	return nil
}

// roomContents formats a room's state (as mode asks) and timeline.
func (v *syncView) roomContents(ctx context.Context, roomID string, tl storage.RoomTimeline, mode stateMode) ([]ClientEvent, syncTimeline, error) {
	ver, err := v.s.rooms.RoomVersion(ctx, roomID)
	if err != nil {
		return nil, syncTimeline{}, err
	}
	timeline, senders, err := v.timeline(ctx, roomID, tl, ver)
	if err != nil {
		return nil, syncTimeline{}, err
	}
	if mode == stateNone && v.req.useStateAfter && hasStateEvent(tl) {
		// The client takes no state from the timeline, and a filter may
		// have hidden some of it: what changed goes into state_after.
		mode = stateDelta
	}
	if mode == stateNone && v.req.filter.state().lazyMembers() && len(tl.Events) > 0 {
		mode = stateSenders
	}
	stateEvents, err := v.stateEvents(ctx, roomID, tl, mode, senders)
	if err != nil {
		return nil, syncTimeline{}, err
	}
	state := make([]ClientEvent, 0, len(stateEvents))
	for _, ev := range stateEvents {
		if v.stateAllowed(roomID, ev, senders) {
			state = append(state, v.format(ctx, ev, ver))
		}
	}
	return state, timeline, nil
}

// timeline formats the events the user may see and the filter lets
// through; senders are whose member events lazy loading keeps.
func (v *syncView) timeline(ctx context.Context, roomID string, tl storage.RoomTimeline, ver mxcore.RoomVersion) (syncTimeline, map[string]bool, error) {
	out := syncTimeline{Events: make([]ClientEvent, 0, len(tl.Events)), Limited: tl.Limited}
	senders := map[string]bool{v.req.userID: true}
	if len(tl.Events) > 0 {
		first := tl.Events[0]
		out.PrevBatch = prevBatchToken(first.Topo.Depth, first.Topo.Stream)
	}
	filter := v.req.filter.timeline()
	for _, ev := range tl.Events {
		if !filter.allows(roomID, ev.Sender, ev.Type) || ev.StateKey == nil && v.ignoresSender(ctx, ev.Sender) {
			continue
		}
		visible, err := v.s.rooms.VisibleToUser(ctx, ev.EventID, v.req.userID)
		if err != nil {
			return out, nil, err
		}
		if visible {
			out.Events = append(out.Events, v.format(ctx, ev, ver))
			senders[ev.Sender] = true
		}
	}
	return out, senders, nil
}

// hasStateEvent reports whether the timeline read (before the timeline
// filter) holds a state event.
func hasStateEvent(tl storage.RoomTimeline) bool {
	for _, ev := range tl.Events {
		if ev.StateKey != nil {
			return true
		}
	}
	return false
}

// stateEntries is the room state at the start of the timeline, or with
// use_state_after at its end: after the last event read, filtered out or
// not, since the next sync starts there. With no timeline it is the
// current state.
func (v *syncView) stateEntries(ctx context.Context, roomID string, tl storage.RoomTimeline) ([]storage.StateEntry, error) {
	switch {
	case len(tl.Events) == 0:
		return v.s.rooms.CurrentState(ctx, roomID)
	case v.req.useStateAfter:
		return v.s.rooms.StateAt(ctx, tl.Events[len(tl.Events)-1].EventID, roomserver.StateAfterEvent)
	}
	return v.s.rooms.StateAt(ctx, tl.Events[0].EventID, roomserver.StateBeforeEvent)
}

// stateEvents loads the state at the start (or end, see stateEntries) of
// the timeline, all of it or only what changed after the token.
func (v *syncView) stateEvents(ctx context.Context, roomID string, tl storage.RoomTimeline, mode stateMode, senders map[string]bool) ([]storage.StoredEvent, error) {
	if mode == stateNone {
		return nil, nil
	}
	entries, err := v.stateEntries(ctx, roomID, tl)
	if err != nil {
		return nil, err
	}
	// Only the events the state filter may let through are loaded: a
	// filter of no types (as clients following one room's timeline send)
	// loads none, and lazy loading loads only the senders' member events.
	filter := v.req.filter.state()
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if !filter.allowsType(e.Type) {
			continue
		}
		lazyMember := e.Type == "m.room.member" && filter.lazyMembers()
		if mode == stateSenders && e.Type != "m.room.member" || lazyMember && !senders[e.StateKey] {
			continue
		}
		ids = append(ids, e.EventID)
	}
	evs, err := v.s.store.Events(ctx, ids)
	if err != nil || mode != stateDelta {
		return evs, err
	}
	// A delta: the state events stored after the token are those the
	// client has not seen.
	return slices.DeleteFunc(evs, func(ev storage.StoredEvent) bool { return ev.StreamPos <= v.since }), nil
}

// stateAllowed applies the state filter; with lazy loading, member
// events only of the timeline's senders (and the user).
func (v *syncView) stateAllowed(roomID string, ev storage.StoredEvent, senders map[string]bool) bool {
	filter := v.req.filter.state()
	if !filter.allows(roomID, ev.Sender, ev.Type) {
		return false
	}
	if filter.lazyMembers() && ev.Type == "m.room.member" && ev.StateKey != nil {
		return senders[*ev.StateKey]
	}
	return true
}

// format serves an event as ClientEventWithoutRoomID: the room is implied
// by the section it is in. Only the device that sent it gets its txn ID.
func (v *syncView) format(ctx context.Context, ev storage.StoredEvent, ver mxcore.RoomVersion) ClientEvent {
	txnID, _ := v.s.api.TransactionIDFor(ev.EventID, v.req.userID, v.req.deviceID)
	opts := ClientEventOptions{Now: v.nowMs, TransactionID: txnID}
	if ev.RedactedBecause != "" {
		opts.RedactedBecause = v.redaction(ctx, ev.RedactedBecause)
	}
	out := clientEventFromStored(ev, ver, opts)
	out.RoomID = ""
	return out
}

// redaction formats the redaction event for unsigned.redacted_because; if
// it cannot be loaded the event is still served redacted, citing its ID.
func (v *syncView) redaction(ctx context.Context, redactionID string) *ClientEvent {
	infos, err := v.s.rooms.Events(ctx, []string{redactionID})
	if err != nil || len(infos) == 0 {
		return &ClientEvent{EventID: redactionID, Content: json.RawMessage("{}")}
	}
	ev := NewClientEvent(infos[0].Event, ClientEventOptions{Now: v.nowMs})
	return &ev
}
