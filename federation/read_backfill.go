package federation

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// Bounds of /backfill and /get_missing_events: how many events one
// answer holds, and how many starting points a request may name.
const (
	MaxBackfillLimit  = roomserver.MaxMissingEventsLimit
	maxBackfillFrom   = 20
	maxMissingIDsList = 100
)

// serveBackfill implements GET /v1/backfill/{roomId}?v=…&limit=: the
// events named by v and those before them along prev_events, up to limit
// in all, newest first. Events origin may not see are served redacted,
// so it can still link the DAG without learning their content.
func (rt *Routes) serveBackfill(r *http.Request) (*Egress, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	roomID := readPathParam(r, "roomId")
	from, limit, err := backfillParams(r)
	if err != nil {
		return nil, err
	}
	if err := rt.checkRoomAccess(ctx, roomID, origin); err != nil {
		return nil, err
	}
	infos, err := rt.Reads.Rooms.Events(ctx, from)
	if err != nil {
		return nil, err
	}
	var ids, known []string
	for _, info := range infos {
		if info.Event.RoomID() == roomID && len(ids) < limit {
			ids = append(ids, info.Event.EventID())
			known = append(known, info.Event.EventID())
		}
	}
	if rest := limit - len(ids); rest > 0 && len(known) > 0 {
		earlier, err := rt.Reads.Rooms.MissingEvents(ctx, roomID, nil, known, rest, 0)
		if err != nil {
			return nil, err
		}
		slices.Reverse(earlier) // newest first, after the starting events
		for _, ev := range earlier {
			ids = append(ids, ev.EventID())
		}
	}
	pdus, err := rt.servedEvents(ctx, ids, origin, true)
	if err != nil {
		return nil, err
	}
	return &Egress{RoomID: roomID, JSON: rt.envelope(pdus)}, nil
}

// backfillParams reads v (at least one, at most maxBackfillFrom) and the
// required limit, capped at MaxBackfillLimit.
func backfillParams(r *http.Request) ([]string, int, error) {
	q := r.URL.Query()
	from := q["v"]
	if len(from) == 0 {
		return nil, 0, mxcore.MissingParam("v is required")
	}
	if len(from) > maxBackfillFrom {
		return nil, 0, mxcore.InvalidParam("v names too many events")
	}
	raw := q.Get("limit")
	if raw == "" {
		return nil, 0, mxcore.MissingParam("limit is required")
	}
	limit, err := strconv.Atoi(raw)
	if err != nil || limit < 1 {
		return nil, 0, mxcore.InvalidParam("limit must be a positive integer")
	}
	return from, min(limit, MaxBackfillLimit), nil
}

// missingEventsRequest is the body of POST /v1/get_missing_events.
type missingEventsRequest struct {
	Limit    *int     `json:"limit"`
	MinDepth int64    `json:"min_depth"`
	Earliest []string `json:"earliest_events"`
	Latest   []string `json:"latest_events"`
}

// serveMissingEvents implements POST /v1/get_missing_events/{roomId}.
// Like backfill, it serves events origin may not see redacted.
func (rt *Routes) serveMissingEvents(r *http.Request) (*Egress, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	roomID := readPathParam(r, "roomId")
	var req missingEventsRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	if err := rt.checkRoomAccess(ctx, roomID, origin); err != nil {
		return nil, err
	}
	limit := roomserver.DefaultMissingEventsLimit
	if req.Limit != nil {
		limit = *req.Limit
	}
	found, err := rt.Reads.Rooms.MissingEvents(ctx, roomID, req.Earliest, req.Latest, limit, req.MinDepth)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(found))
	for i, ev := range found {
		ids[i] = ev.EventID()
	}
	events, err := rt.servedEvents(ctx, ids, origin, true)
	if err != nil {
		return nil, err
	}
	return &Egress{RoomID: roomID, JSON: map[string][]json.RawMessage{"events": events}}, nil
}

func (req *missingEventsRequest) check() error {
	switch {
	case len(req.Latest) == 0:
		return mxcore.MissingParam("latest_events is required")
	case len(req.Latest) > maxMissingIDsList || len(req.Earliest) > maxMissingIDsList:
		return mxcore.InvalidParam("earliest_events and latest_events may name at most 100 events each")
	case req.Limit != nil && *req.Limit < 0:
		return mxcore.InvalidParam("limit must not be negative")
	}
	return nil
}
