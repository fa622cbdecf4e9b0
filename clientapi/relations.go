package clientapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// The relationships API (relations.yaml) and the thread list
// (threads_list.yaml), both under /_matrix/client/v1. Pagination tokens
// are /messages' topological tokens (and /relations also takes sync
// tokens), exclusive as there.

const (
	defaultRelationsLimit = 20
	defaultThreadsLimit   = 20
)

// mountRelations registers the v1 relationship endpoints on the root
// router, behind the access token and without guests.
func (a *API) mountRelations(r chi.Router) {
	if a.Rooms == nil {
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(a.RequireAuth, a.noGuests)
		const rel = "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}"
		r.Get(rel, a.handle(a.getRelations))
		r.Get(rel+"/{relType}", a.handle(a.getRelations))
		r.Get(rel+"/{relType}/{eventType}", a.handle(a.getRelations))
		r.Get("/_matrix/client/v1/rooms/{roomId}/threads", a.handle(a.getThreads))
	})
}

// relationsResponse is the body of GET /relations.
type relationsResponse struct {
	Chunk          []ClientEvent `json:"chunk"`
	NextBatch      string        `json:"next_batch,omitempty"`
	PrevBatch      string        `json:"prev_batch,omitempty"`
	RecursionDepth *int          `json:"recursion_depth,omitempty"`
}

// getRelations implements GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]].
func (a *API) getRelations(r *http.Request) (any, error) {
	q, err := a.parseRelationsRequest(r)
	if err != nil {
		return nil, err
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	// The parent must be an event the user may see; anything else is 404,
	// so the answer does not tell hidden events from missing ones.
	if _, err := a.visibleTimelineEvent(ctx, q.RoomID, q.EventID, userID); err != nil {
		return nil, err
	}
	p, err := a.paginateRelations(ctx, userID, q)
	if err != nil {
		return nil, err
	}
	resp := relationsResponse{PrevBatch: r.URL.Query().Get("from")}
	if p.more {
		resp.NextBatch = topoToken(p.next)
	}
	if r.URL.Query().Has("recurse") {
		depth := 1
		if q.Recurse {
			depth = storage.MaxRelationDepth
		}
		resp.RecursionDepth = &depth
	}
	if resp.Chunk, err = a.storedToClient(ctx, p.events); err != nil {
		return nil, err
	}
	return resp, nil
}

// parseRelationsRequest reads the path and query of a /relations request.
func (a *API) parseRelationsRequest(r *http.Request) (storage.RelationsQuery, error) {
	q := storage.RelationsQuery{
		EventID: roomPathParam(r, "eventId"), RelType: roomPathParam(r, "relType"), EventType: roomPathParam(r, "eventType"),
	}
	var err error
	if q.RoomID, err = roomIDParam(r); err != nil {
		return q, err
	}
	query := r.URL.Query()
	switch query.Get("dir") {
	case "", "b":
		q.Backwards = true
	case "f":
	default:
		return q, mxcore.InvalidParam("dir must be b or f")
	}
	switch query.Get("recurse") {
	case "", "false":
	case "true":
		q.Recurse = true
	default:
		return q, mxcore.InvalidParam("recurse must be true or false")
	}
	if q.Limit, err = limitParam(query, defaultRelationsLimit); err != nil {
		return q, err
	}
	return q, a.parseRelationsRange(r.Context(), query, &q)
}

// parseRelationsRange reads from and to as /messages does: without from,
// paging starts at the newest child (backwards) or the oldest (forwards).
func (a *API) parseRelationsRange(ctx context.Context, query url.Values, q *storage.RelationsQuery) error {
	q.From, q.To = storage.TopoMin, storage.TopoMax
	if q.Backwards {
		q.From, q.To = storage.TopoMax, storage.TopoMin
	}
	var err error
	if s := query.Get("from"); s != "" {
		if q.From, err = a.parsePaginationToken(ctx, q.RoomID, s, q.Backwards); err != nil {
			return err
		}
	}
	if s := query.Get("to"); s != "" {
		if q.To, err = a.parsePaginationToken(ctx, q.RoomID, s, !q.Backwards); err != nil {
			return err
		}
	}
	return nil
}

// paginateRelations reads up to q.Limit children the user may see, in
// at most maxPaginationScans store reads, as paginate does for /messages.
func (a *API) paginateRelations(ctx context.Context, userID string, q storage.RelationsQuery) (page, error) {
	limit := q.Limit
	p := page{next: q.From, more: limit == 0}
	for scan := 0; scan < maxPaginationScans && len(p.events) < limit; scan++ {
		q.From = p.next
		batch, err := a.Store.Relations(ctx, q)
		if err != nil {
			return p, err
		}
		full, err := a.takeVisible(ctx, q.RoomID, userID, batch, limit, nil, &p)
		if err != nil || full {
			p.more = true
			return p, err
		}
		if len(batch) < limit {
			p.more = false
			return p, nil
		}
		p.more = true
	}
	return p, nil
}

// threadsResponse is the body of GET /rooms/{roomId}/threads.
type threadsResponse struct {
	Chunk     []ClientEvent `json:"chunk"`
	NextBatch string        `json:"next_batch,omitempty"`
}

// threadsRequest is a parsed /threads query.
type threadsRequest struct {
	roomID, userID string
	participated   bool
	before         storage.TopoPos
	limit          int
}

// getThreads implements GET /rooms/{roomId}/threads: the room's thread
// roots the user may see, latest activity first.
func (a *API) getThreads(r *http.Request) (any, error) {
	req, err := parseThreadsRequest(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if err := a.checkMayRead(ctx, req.roomID, req.userID); err != nil {
		return nil, err
	}
	ids, next, more, err := a.visibleThreadRoots(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := threadsResponse{}
	if more {
		resp.NextBatch = topoToken(next)
	}
	if resp.Chunk, err = a.clientEvents(ctx, ids); err != nil {
		return nil, err
	}
	if resp.Chunk == nil {
		resp.Chunk = []ClientEvent{}
	}
	return resp, nil
}

func parseThreadsRequest(r *http.Request) (threadsRequest, error) {
	req := threadsRequest{userID: roomCaller(r).UserID, before: storage.TopoMax}
	var err error
	if req.roomID, err = roomIDParam(r); err != nil {
		return req, err
	}
	q := r.URL.Query()
	switch q.Get("include") {
	case "", "all":
	case "participated":
		req.participated = true
	default:
		return req, mxcore.InvalidParam("include must be all or participated")
	}
	if req.limit, err = limitParam(q, defaultThreadsLimit); err != nil {
		return req, err
	}
	if req.limit == 0 {
		return req, mxcore.InvalidParam("limit must be greater than zero")
	}
	if s := q.Get("from"); s != "" {
		p, ok := parseTopoToken(s[1:])
		if s[0] != 't' || !ok {
			return req, mxcore.InvalidParam("Unknown pagination token")
		}
		req.before = p
	}
	return req, nil
}

// visibleThreadRoots pages through the room's threads, keeping roots that
// are timeline events of the room the user may see, in a bounded number
// of store reads. next is the position to continue from.
func (a *API) visibleThreadRoots(ctx context.Context, req threadsRequest) (ids []string, next storage.TopoPos, more bool, err error) {
	next = req.before
	for scan := 0; scan < maxPaginationScans && len(ids) < req.limit; scan++ {
		roots, err := a.Store.ThreadRoots(ctx, req.roomID, req.userID, req.participated, next, req.limit)
		if err != nil {
			return nil, next, false, err
		}
		shown, err := a.shownThreadRoots(ctx, req, roots)
		if err != nil {
			return nil, next, false, err
		}
		for _, root := range roots {
			next = root.Latest
			if shown[root.EventID] {
				ids = append(ids, root.EventID)
			}
			if len(ids) == req.limit {
				return ids, next, true, nil
			}
		}
		if len(roots) < req.limit {
			return ids, next, false, nil
		}
		more = true
	}
	return ids, next, more, nil
}

// shownThreadRoots says which roots are timeline events of the room that
// the user may see: a root may be missing, or claimed from another room.
func (a *API) shownThreadRoots(ctx context.Context, req threadsRequest, roots []storage.ThreadRoot) (map[string]bool, error) {
	ids := make([]string, len(roots))
	for i, r := range roots {
		ids[i] = r.EventID
	}
	evs, err := a.Store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	shown := make(map[string]bool, len(evs))
	for _, ev := range evs {
		if ev.RoomID != req.roomID || ev.Outlier || ev.Rejected != "" || ev.SoftFailed {
			continue
		}
		visible, err := a.Rooms.VisibleToUser(ctx, ev.EventID, req.userID)
		if err != nil {
			return nil, err
		}
		shown[ev.EventID] = visible
	}
	return shown, nil
}

// checkThreadRoot refuses a client's event that starts a thread from an
// event that itself relates to another: threads cannot nest (spec,
// "Validation of m.thread relationships", which asks for 400 M_UNKNOWN).
// A root this server does not have, or has in another room, is left to
// the aggregation rules, which ignore relations across rooms.
func (a *API) checkThreadRoot(ctx context.Context, req roomserver.EventRequest) error {
	rel := gjson.GetBytes(req.Content, `m\.relates_to`)
	if rel.Get("rel_type").String() != storage.RelThread {
		return nil
	}
	roots, err := a.Store.Events(ctx, []string{rel.Get("event_id").String()})
	if err != nil || len(roots) == 0 || roots[0].RoomID != req.RoomID {
		return err
	}
	if gjson.GetBytes(roots[0].JSON, `content.m\.relates_to`).Exists() {
		return mxcore.Unknown("Cannot start a thread from an event that relates to another event")
	}
	return nil
}

// checkDuplicateAnnotation refuses a second annotation of an event by the
// same sender with the same event type and key, unless the first was
// redacted (spec: "Avoiding duplicate annotations"). Two identical
// reactions sent at the same instant can both pass; the spec leaves
// deduplication of what arrives to clients anyway.
func (a *API) checkDuplicateAnnotation(ctx context.Context, req roomserver.EventRequest) error {
	rel := gjson.GetBytes(req.Content, `m\.relates_to`)
	parent, key := rel.Get("event_id"), rel.Get("key")
	if rel.Get("rel_type").String() != storage.RelAnnotate || parent.Type != gjson.String || key.Type != gjson.String {
		return nil
	}
	dup, err := a.Store.HasAnnotation(ctx, req.RoomID, parent.String(), req.Sender, req.Type, key.String())
	if err != nil || !dup {
		return err
	}
	return mxcore.NewError(http.StatusBadRequest, mxcore.ErrDuplicateAnnotation, "You already sent this annotation of that event")
}
