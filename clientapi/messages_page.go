package clientapi

import (
	"context"

	"github.com/warbler-im/warbler/storage"
)

// page is one stretch of timeline read for /messages or /context.
type page struct {
	events []storage.StoredEvent // in the order read
	next   storage.TopoPos       // where the next page starts
	more   bool                  // whether there may be more events
}

// paginate reads up to limit events strictly between from and to that
// the filter lets through and the user may see. Hidden events are skipped
// but still move the position on, so the next page does not read them
// again.
func (a *API) paginate(ctx context.Context, roomID, userID string, from, to storage.TopoPos, limit int, backwards bool, f *roomEventFilter) (page, error) {
	p := page{next: from, more: limit == 0}
	for scan := 0; scan < maxPaginationScans && len(p.events) < limit; scan++ {
		batch, err := a.Store.EventsBetween(ctx, roomID, p.next, to, limit, backwards)
		if err != nil {
			return p, err
		}
		full, err := a.takeVisible(ctx, roomID, userID, batch, limit, f, &p)
		if err != nil || full {
			p.more = true
			return p, err
		}
		if len(batch) < limit {
			p.more = false
			return p, nil
		}
		p.more = true // scans ran out with the room not exhausted
	}
	return p, nil
}

// takeVisible appends the batch's events the user may see to p until it
// holds limit; it reports whether it does.
func (a *API) takeVisible(ctx context.Context, roomID, userID string, batch []storage.StoredEvent, limit int, f *roomEventFilter, p *page) (bool, error) {
	for _, ev := range batch {
		p.next = ev.Topo
		if !f.allows(roomID, ev.Sender, ev.Type) {
			continue
		}
		visible, err := a.Rooms.VisibleToUser(ctx, ev.EventID, userID)
		if err != nil {
			return false, err
		}
		if visible {
			p.events = append(p.events, ev)
		}
		if len(p.events) == limit {
			return true, nil
		}
	}
	return false, nil
}

// storedToClient formats stored events through the one formatter
// (formatEvents), so redactions and transaction IDs show as everywhere.
func (a *API) storedToClient(ctx context.Context, evs []storage.StoredEvent) ([]ClientEvent, error) {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.EventID
	}
	out, err := a.clientEvents(ctx, ids)
	if out == nil {
		out = []ClientEvent{}
	}
	return out, err
}

// lazyMembers is the state lazy_load_members asks for: the member events
// of the events' senders, from the state the user may see. A user who may
// see no state (an invitee) gets none rather than an error, since the
// events themselves were visible.
func (a *API) lazyMembers(ctx context.Context, roomID, userID string, evs []storage.StoredEvent) []ClientEvent {
	senders := map[string]bool{}
	for _, ev := range evs {
		senders[ev.Sender] = true
	}
	state, err := a.visibleState(ctx, roomID, userID)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range state {
		if e.Type == "m.room.member" && senders[e.StateKey] {
			ids = append(ids, e.EventID)
		}
	}
	out, _ := a.clientEvents(ctx, ids)
	return out
}
