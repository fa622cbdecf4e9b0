package clientapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
)

// GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event: the event of
// a room closest to a point in time, for jumping to a date. Only the
// events this server has are searched; asking other servers for closer
// ones (federation's timestamp_to_event) does not exist yet.

// timestampCandidates bounds how many events near the timestamp one
// request checks for visibility.
const timestampCandidates = 100

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
	candidates, err := a.Store.EventsByTimestamp(ctx, roomID, ts, forwards, timestampCandidates)
	if err != nil {
		return nil, err
	}
	for _, ev := range candidates {
		visible, err := a.Rooms.VisibleToUser(ctx, ev.EventID, userID)
		if err != nil {
			return nil, err
		}
		if visible {
			return map[string]any{"event_id": ev.EventID, "origin_server_ts": ev.OriginServerTS}, nil
		}
	}
	direction := "forward"
	if !forwards {
		direction = "backward"
	}
	return nil, mxcore.NotFound("Unable to find event from " + strconv.FormatInt(ts, 10) + " in " + direction + " direction")
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
