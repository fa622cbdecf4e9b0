package clientapi

import (
	"context"
	"log/slog"

	"github.com/warbler-im/warbler/storage"
)

// Backfiller fetches a room's earlier events from other servers when
// /messages pages back past the earliest event stored here (a room joined
// over federation starts at the join). The federation layer implements
// it; the client API only asks.
type Backfiller interface {
	// Backfill stores up to limit events from before the room's earliest
	// stored event, through the roomserver's pipeline, and returns how
	// many it stored (0 when the room's beginning is already here).
	Backfill(ctx context.Context, roomID string, limit int) (int, error)
}

// paginateWithBackfill is paginate, which, going backwards without a to
// bound, tops a page the store could not fill up with backfilled events.
func (a *API) paginateWithBackfill(ctx context.Context, req messagesRequest) (page, error) {
	p, err := a.paginate(ctx, req.roomID, req.userID, req.from, req.to, req.limit, req.backwards, req.filter)
	if err != nil || a.Backfill == nil || !req.backwards || req.to != storage.TopoMin || p.more || len(p.events) >= req.limit {
		return p, err
	}
	stored, err := a.Backfill.Backfill(ctx, req.roomID, req.limit-len(p.events))
	if err != nil {
		// The page is still right for what is stored; the client may
		// page again later.
		slog.InfoContext(ctx, "backfill for /messages failed", "room_id", req.roomID, "err", err)
	}
	if stored == 0 {
		return p, nil
	}
	more, err := a.paginate(ctx, req.roomID, req.userID, p.next, req.to, req.limit-len(p.events), true, req.filter)
	if err != nil {
		return p, err
	}
	p.events = append(p.events, more.events...)
	// More may lie further back on other servers: the next page asks.
	p.next, p.more = more.next, true
	return p, nil
}
