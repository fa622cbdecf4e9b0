package clientapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
)

// GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event: the event of
// a room closest to a point in time, for jumping to a date. Only the
// events this server has are searched; asking other servers for closer
// ones (federation's timestamp_to_event) does not exist yet.

// A request checks at most timestampBatches batches of timestampBatch
// events near the timestamp for one the caller may see.
const (
	timestampBatch   = 100
	timestampBatches = 5
)

// mountTimestamp registers the endpoint; the v1 path has no other routes
// of ours yet, so it is written out in full.
func (a *API) mountTimestamp(r chi.Router) {
	if a.Rooms == nil {
		return
	}
	r.With(a.RequireAuth, a.noGuests).Get("/_matrix/client/v1/rooms/{roomId}/timestamp_to_event", a.handle(a.timestampToEvent))
}

// timestampToEvent finds the first event the caller may see at or after
// ts (dir=f), or at or before it (dir=b).
func (a *API) timestampToEvent(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	ts, forwards, err := parseTimestampQuery(r)
	if err != nil {
		return nil, err
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	if err := a.checkMayRead(ctx, roomID, userID); err != nil {
		return nil, err
	}
	found, err := a.firstVisibleFrom(ctx, roomID, userID, ts, forwards)
	if err != nil || found != nil {
		return found, err
	}
	direction := "forward"
	if !forwards {
		direction = "backward"
	}
	return nil, mxcore.NotFound("Unable to find event from " + strconv.FormatInt(ts, 10) + " in " + direction + " direction")
}

// firstVisibleFrom walks the room's events from ts in the asked direction,
// batch by batch, and answers the first the user may see (nil if none in
// the bounded walk). Each batch starts at the last one's timestamp, so
// events sharing it are seen again and skipped; if a whole batch shares
// one millisecond, the walk steps past it, which may skip unseen events
// of that same millisecond.
func (a *API) firstVisibleFrom(ctx context.Context, roomID, userID string, ts int64, forwards bool) (any, error) {
	seen := map[string]bool{}
	for range timestampBatches {
		batch, err := a.Store.EventsByTimestamp(ctx, roomID, ts, forwards, timestampBatch)
		if err != nil {
			return nil, err
		}
		for _, ev := range batch {
			if seen[ev.EventID] {
				continue
			}
			seen[ev.EventID] = true
			visible, err := a.Rooms.VisibleToUser(ctx, ev.EventID, userID)
			if err != nil {
				return nil, err
			}
			if visible {
				return map[string]any{"event_id": ev.EventID, "origin_server_ts": ev.OriginServerTS}, nil
			}
		}
		if len(batch) < timestampBatch {
			return nil, nil
		}
		next := batch[len(batch)-1].OriginServerTS
		if next == ts {
			next = stepTimestamp(ts, forwards)
		}
		ts = next
	}
	return nil, nil
}

func stepTimestamp(ts int64, forwards bool) int64 {
	if forwards {
		return ts + 1
	}
	return ts - 1
}

// parseTimestampQuery reads the required ts (milliseconds) and dir.
func parseTimestampQuery(r *http.Request) (ts int64, forwards bool, err error) {
	q := r.URL.Query()
	if !q.Has("ts") || !q.Has("dir") {
		return 0, false, mxcore.MissingParam("ts and dir are required")
	}
	ts, err = strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil || ts < 0 {
		return 0, false, mxcore.InvalidParam("ts must be a timestamp in milliseconds")
	}
	switch q.Get("dir") {
	case "f":
		return ts, true, nil
	case "b":
		return ts, false, nil
	}
	return 0, false, mxcore.InvalidParam("dir must be f or b")
}
