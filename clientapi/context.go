package clientapi

import (
	"context"
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// contextResponse is the body of GET /rooms/{roomId}/context/{eventId}.
type contextResponse struct {
	Start        string        `json:"start"`
	End          string        `json:"end"`
	EventsBefore []ClientEvent `json:"events_before"`
	Event        ClientEvent   `json:"event"`
	EventsAfter  []ClientEvent `json:"events_after"`
	State        []ClientEvent `json:"state"`
}

// getEventContext implements GET /rooms/{roomId}/context/{eventId}: the
// limit is split between the events before and after (the before side
// gets the smaller half), and start and end are /messages tokens that
// continue from the outermost events returned.
func (a *API) getEventContext(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	limit, err := limitParam(q, defaultTimelineLimit)
	if err != nil {
		return nil, err
	}
	f, err := eventFilterParam(q)
	if err != nil {
		return nil, err
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	ev, err := a.visibleTimelineEvent(ctx, roomID, roomPathParam(r, "eventId"), userID)
	if err != nil {
		return nil, err
	}
	before, err := a.paginate(ctx, roomID, userID, ev.Topo, storage.TopoMin, limit/2, true, f)
	if err != nil {
		return nil, err
	}
	after, err := a.paginate(ctx, roomID, userID, ev.Topo, storage.TopoMax, limit-limit/2, false, f)
	if err != nil {
		return nil, err
	}
	return a.contextBody(ctx, ev, before, after, f)
}

// visibleTimelineEvent loads an event of the room's timeline that the
// user may see. Any other event answers 404, so the answer does not tell
// hidden events from missing ones.
func (a *API) visibleTimelineEvent(ctx context.Context, roomID, eventID, userID string) (storage.StoredEvent, error) {
	notFound := mxcore.NotFound("Event not found")
	evs, err := a.Store.Events(ctx, []string{eventID})
	if err != nil {
		return storage.StoredEvent{}, err
	}
	if len(evs) == 0 || evs[0].RoomID != roomID || evs[0].Outlier || evs[0].Rejected != "" || evs[0].SoftFailed {
		return storage.StoredEvent{}, notFound
	}
	visible, err := a.Rooms.VisibleToUser(ctx, eventID, userID)
	if err != nil || !visible || a.forgotNow(ctx, roomID, userID) {
		return storage.StoredEvent{}, notFound
	}
	return evs[0], nil
}

func (a *API) contextBody(ctx context.Context, ev storage.StoredEvent, before, after page, f *roomEventFilter) (any, error) {
	resp := contextResponse{Start: topoToken(before.next), End: topoToken(after.next)}
	all := append(append([]storage.StoredEvent{ev}, before.events...), after.events...)
	formatted, err := a.storedToClient(ctx, all)
	if err != nil {
		return nil, err
	}
	if len(formatted) != len(all) {
		return nil, mxcore.NotFound("Event not found") // deleted under us
	}
	resp.Event = formatted[0]
	resp.EventsBefore = formatted[1 : 1+len(before.events)]
	resp.EventsAfter = formatted[1+len(before.events):]
	last := ev.EventID
	if n := len(after.events); n > 0 {
		last = after.events[n-1].EventID
	}
	if resp.State, err = a.contextState(ctx, last, all, f); err != nil {
		return nil, err
	}
	return resp, nil
}

// contextState is the state after the last event returned, filtered;
// with lazy_load_members, only the member events of the events' senders.
func (a *API) contextState(ctx context.Context, lastID string, evs []storage.StoredEvent, f *roomEventFilter) ([]ClientEvent, error) {
	entries, err := a.Rooms.StateAt(ctx, lastID, roomserver.StateAfterEvent)
	if err != nil {
		return nil, err
	}
	senders := map[string]bool{}
	for _, ev := range evs {
		senders[ev.Sender] = true
	}
	var ids []string
	for _, e := range entries {
		if e.Type != "m.room.member" || !f.lazyMembers() || senders[e.StateKey] {
			ids = append(ids, e.EventID)
		}
	}
	state, err := a.clientEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := []ClientEvent{}
	for _, s := range state {
		if f.allows(s.RoomID, s.Sender, s.Type) {
			out = append(out, s)
		}
	}
	return out, nil
}
