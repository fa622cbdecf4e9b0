package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// GET /rooms/{roomId}/messages pages through a room's timeline in
// topological order. A pagination token is an event's topological
// position, "t<depth>-<stream>" (prevBatchToken), and is exclusive: going
// backwards returns the events before it, going forwards those after it.
// So /sync's prev_batch (its timeline's first event) pages back from just
// before what the client already has, and a page's end (its last event)
// continues without repeating it.

// maxPaginationScans bounds how many store reads one request makes while
// filters or history visibility hide events, so a request on a long run
// of hidden events returns (with an end token to continue) instead of
// scanning the whole room.
const maxPaginationScans = 5

// messagesResponse is the body of GET /rooms/{roomId}/messages.
type messagesResponse struct {
	Chunk []ClientEvent `json:"chunk"`
	Start string        `json:"start"`
	End   string        `json:"end,omitempty"`
	State []ClientEvent `json:"state,omitempty"`
}

// messagesRequest is a parsed /messages query.
type messagesRequest struct {
	roomID, userID string
	backwards      bool
	from, to       storage.TopoPos
	start          string
	limit          int
	filter         *roomEventFilter
}

// getMessages implements GET /rooms/{roomId}/messages.
func (a *API) getMessages(r *http.Request) (any, error) {
	req, err := a.parseMessagesRequest(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if err := a.checkMayRead(ctx, req.roomID, req.userID); err != nil {
		return nil, err
	}
	page, err := a.paginateWithBackfill(ctx, req)
	if err != nil {
		return nil, err
	}
	return a.messagesBody(ctx, req, page)
}

func (a *API) messagesBody(ctx context.Context, req messagesRequest, p page) (any, error) {
	resp := messagesResponse{Start: req.start}
	if p.more {
		resp.End = topoToken(p.next)
	}
	var err error
	if resp.Chunk, err = a.storedToClient(ctx, p.events); err != nil {
		return nil, err
	}
	if req.filter.lazyMembers() {
		resp.State = a.lazyMembers(ctx, req.roomID, req.userID, p.events)
	}
	return resp, nil
}

// parseMessagesRequest reads the path and query of a /messages request.
func (a *API) parseMessagesRequest(r *http.Request) (messagesRequest, error) {
	req := messagesRequest{userID: roomCaller(r).UserID}
	var err error
	if req.roomID, err = roomIDParam(r); err != nil {
		return req, err
	}
	q := r.URL.Query()
	switch q.Get("dir") {
	case "b":
		req.backwards = true
	case "f":
	default:
		return req, mxcore.InvalidParam("dir must be b or f")
	}
	if req.limit, err = limitParam(q, defaultTimelineLimit); err != nil {
		return req, err
	}
	if req.filter, err = eventFilterParam(q); err != nil {
		return req, err
	}
	return req, a.parseMessagesRange(r.Context(), q, &req)
}

// parseMessagesRange reads from and to. Without from, paging starts at
// the room's end (backwards) or beginning (forwards); without to, it runs
// to the other end.
func (a *API) parseMessagesRange(ctx context.Context, q url.Values, req *messagesRequest) error {
	var err error
	req.from, req.to = storage.TopoMin, storage.TopoMax
	if req.backwards {
		req.from, req.to = storage.TopoMax, storage.TopoMin
	}
	if req.start, err = a.defaultStart(ctx, req.backwards); err != nil {
		return err
	}
	if s := q.Get("from"); s != "" {
		if req.from, err = a.parsePaginationToken(ctx, req.roomID, s, req.backwards); err != nil {
			return err
		}
		req.start = s
	}
	if s := q.Get("to"); s != "" {
		// to bounds the other side, so an s-token maps as for the
		// opposite direction.
		if req.to, err = a.parsePaginationToken(ctx, req.roomID, s, !req.backwards); err != nil {
			return err
		}
	}
	return nil
}

// defaultStart is the start token of a request without from: the current
// sync position going backwards (a token the client may sync from too),
// the room's beginning going forwards.
func (a *API) defaultStart(ctx context.Context, backwards bool) (string, error) {
	if !backwards {
		return topoToken(storage.TopoMin), nil
	}
	pos, err := a.Store.MaxStreamPosition(ctx)
	if err != nil {
		return "", err
	}
	return syncToken{Events: pos}.String(), nil
}

func limitParam(q url.Values, def int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, mxcore.InvalidParam("limit must be a non-negative integer")
	}
	return min(n, maxTimelineLimit), nil
}

// eventFilterParam decodes the filter query parameter, a RoomEventFilter
// as JSON.
func eventFilterParam(q url.Values) (*roomEventFilter, error) {
	s := q.Get("filter")
	if s == "" {
		return nil, nil
	}
	if len(s) > maxFilterBytes {
		return nil, mxcore.InvalidParam("The filter is too large")
	}
	var f roomEventFilter
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return nil, mxcore.InvalidParam("filter is not a valid RoomEventFilter: " + err.Error())
	}
	return &f, nil
}

// topoToken formats a pagination token; prevBatchToken is the one format.
func topoToken(p storage.TopoPos) string { return prevBatchToken(p.Depth, p.Stream) }

// parsePaginationToken reads a /messages or prev_batch token, or a sync
// token, which names a stream position: it maps to the latest event of
// the room at or before it, so that backwards paging includes that event
// and forwards paging starts after it.
func (a *API) parsePaginationToken(ctx context.Context, roomID, s string, backwards bool) (storage.TopoPos, error) {
	bad := mxcore.InvalidParam("Invalid pagination token")
	if strings.HasPrefix(s, "t") {
		p, ok := parseTopoToken(s[1:])
		if !ok {
			return p, bad
		}
		return p, nil
	}
	tok, err := parseSyncToken(s)
	if err != nil {
		return storage.TopoPos{}, bad
	}
	return a.topoAtStream(ctx, roomID, tok.Events, backwards)
}

// parseTopoToken reads "<depth>-<stream>"; either may be negative, so
// the separator is the first '-' after the depth's first character.
func parseTopoToken(s string) (storage.TopoPos, bool) {
	if s == "" {
		return storage.TopoPos{}, false
	}
	i := strings.IndexByte(s[1:], '-') + 1
	if i == 0 {
		return storage.TopoPos{}, false
	}
	d, err1 := strconv.ParseInt(s[:i], 10, 64)
	st, err2 := strconv.ParseInt(s[i+1:], 10, 64)
	if err1 != nil || err2 != nil {
		return storage.TopoPos{}, false
	}
	return storage.TopoPos{Depth: d, Stream: st}, true
}

// topoAtStream maps a stream position to a topological one. Backwards,
// the position just after the latest event at or before pos (tokens are
// exclusive, and that event belongs to the page); forwards, that event's
// own position. A room with no event that early maps to its beginning.
func (a *API) topoAtStream(ctx context.Context, roomID string, pos int64, backwards bool) (storage.TopoPos, error) {
	tls, err := a.Store.RoomEventsSince(ctx, 0, pos, []string{roomID}, 1)
	if err != nil {
		return storage.TopoPos{}, err
	}
	if len(tls) == 0 || len(tls[0].Events) == 0 {
		return storage.TopoMin, nil
	}
	p := tls[0].Events[len(tls[0].Events)-1].Topo
	if backwards {
		p.Stream++
	}
	return p, nil
}

// checkMayRead refuses users who cannot see any of the room's history:
// those who never had a membership of a room that is not world readable
// (unknown rooms included, so the answer does not reveal they exist).
// Former and invited members pass; history visibility then decides event
// by event.
func (a *API) checkMayRead(ctx context.Context, roomID, userID string) error {
	membership, eventID, err := a.Rooms.Membership(ctx, roomID, userID)
	if errors.Is(err, roomserver.ErrUnknownRoom) {
		return notInRoom()
	}
	if err != nil {
		return err
	}
	if membership == "" && !a.worldReadable(ctx, roomID) {
		return notInRoom()
	}
	return a.refuseForgotten(ctx, roomID, userID, membership, eventID)
}
