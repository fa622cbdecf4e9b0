package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/spaces"
)

// Room discovery beyond the directory (client-server API, "Spaces" and
// "Room summaries"): GET /hierarchy walks a space's tree and
// GET /room_summary describes one room. Rooms this server is not in are
// asked of the servers their parents name (RemoteDirectory).

// RemoteDirectory reaches rooms and directories of other servers for
// discovery; the federation package implements it and caches its
// answers briefly. Errors mean no server could answer.
type RemoteDirectory interface {
	// Hierarchy asks one of servers for roomID's summary and children.
	Hierarchy(ctx context.Context, roomID string, servers []string, suggestedOnly bool) (spaces.Hierarchy, error)
	// PublicRooms asks server for a page of its public room directory;
	// body is the POST /publicRooms request body.
	PublicRooms(ctx context.Context, server string, body json.RawMessage) (json.RawMessage, error)
}

const (
	// maxRemoteHierarchyFetches bounds the other servers' answers one
	// /hierarchy request waits for, and remoteHierarchyBudget how long it
	// waits for them in all; rooms past either are skipped.
	maxRemoteHierarchyFetches = 20
	remoteHierarchyBudget     = 30 * time.Second
)

// mountDiscovery registers /hierarchy and /room_summary under
// /_matrix/client/v1.
func (a *API) mountDiscovery(r chi.Router) {
	if a.Rooms == nil {
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(a.RequireAuth, a.noGuests)
		r.Get("/_matrix/client/v1/rooms/{roomId}/hierarchy", a.handle(a.getHierarchy))
	})
	r.Group(func(r chi.Router) {
		// The spec lets servers answer without an access token for rooms
		// anyone may see; the handler checks which.
		r.Use(a.optionalAuth)
		r.Get("/_matrix/client/v1/room_summary/{roomIdOrAlias}", a.handle(a.getRoomSummary))
	})
}

// getHierarchy implements GET /_matrix/client/v1/rooms/{roomId}/hierarchy.
func (a *API) getHierarchy(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	q, err := hierarchyQuery(roomID, r.URL.Query())
	if err != nil {
		return nil, err
	}
	src := a.newHierarchySource(roomCaller(r).UserID)
	page, err := spaces.Walk(r.Context(), src, q)
	if errors.Is(err, spaces.ErrRootNotVisible) {
		return nil, mxcore.Forbidden("You may not see this room, or it is not known")
	}
	if err != nil {
		return nil, err
	}
	out := struct {
		Rooms     []spaces.Room `json:"rooms"`
		NextBatch string        `json:"next_batch,omitempty"`
	}{Rooms: page.Rooms}
	if page.More {
		out.NextBatch = spaces.NextToken(q)
	}
	return out, nil
}

// hierarchyQuery reads and bounds the query parameters.
func hierarchyQuery(roomID string, v url.Values) (spaces.Query, error) {
	q := spaces.Query{Root: roomID, MaxDepth: spaces.DefaultMaxDepth, Limit: spaces.DefaultLimit}
	if s := v.Get("suggested_only"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil || (s != "true" && s != "false") {
			return q, mxcore.InvalidParam("suggested_only must be true or false")
		}
		q.SuggestedOnly = b
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return q, mxcore.InvalidParam("limit must be an integer greater than zero")
		}
		q.Limit = min(n, spaces.MaxLimit)
	}
	if s := v.Get("max_depth"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, mxcore.InvalidParam("max_depth must be a non-negative integer")
		}
		q.MaxDepth = min(n, spaces.MaxMaxDepth)
	}
	if from := v.Get("from"); from != "" {
		var err error
		if q, err = spaces.ApplyToken(q, from); err != nil {
			return q, mxcore.InvalidParam("Unknown from token, or suggested_only or max_depth changed since the first page")
		}
	}
	return q, nil
}

// hierarchySource describes rooms to one user's walk: rooms this server
// is in from their state, others through the servers their parents name.
type hierarchySource struct {
	a      *API
	userID string
	// known holds the children summaries other servers sent during this
	// walk, and inaccessible those they said may not be seen, so those
	// rooms are not asked about again.
	known        map[string]spaces.Summary
	inaccessible map[string]bool
	fetches      int
	// remoteDeadline ends the time this walk waits for other servers.
	remoteDeadline time.Time
}

func (a *API) newHierarchySource(userID string) *hierarchySource {
	return &hierarchySource{
		a: a, userID: userID, known: map[string]spaces.Summary{}, inaccessible: map[string]bool{},
		remoteDeadline: time.Now().Add(remoteHierarchyBudget),
	}
}

// Node implements spaces.Source.
func (s *hierarchySource) Node(ctx context.Context, roomID string, via []string, suggestedOnly bool) (spaces.Node, bool, error) {
	if s.a.participates(ctx, roomID) {
		return s.local(ctx, roomID, suggestedOnly)
	}
	return s.remote(ctx, roomID, via, suggestedOnly)
}

// local describes a room this server is in.
func (s *hierarchySource) local(ctx context.Context, roomID string, suggestedOnly bool) (spaces.Node, bool, error) {
	summary, err := spaces.LocalSummary(ctx, s.a.Rooms, roomID)
	if err != nil {
		return spaces.Node{}, false, err
	}
	visible, err := spaces.UserMaySee(ctx, summary, s.a.membershipReader(s.userID))
	if err != nil || !visible {
		return spaces.Node{}, err == nil, err
	}
	var children []spaces.Child
	if summary.RoomType == spaces.RoomTypeSpace {
		if children, err = spaces.LocalChildren(ctx, s.a.Rooms, roomID, suggestedOnly); err != nil {
			return spaces.Node{}, false, err
		}
	}
	room := spaces.Room{Summary: summary, ChildrenState: spaces.ChildrenState(children)}
	return spaces.Node{Room: room, Children: children, Visible: true}, true, nil
}

// remote describes a room this server is not in from what another
// server said: a summary its parent's server already sent (enough for a
// room that is no space), or else a federation request to the servers
// the parent names.
func (s *hierarchySource) remote(ctx context.Context, roomID string, via []string, suggestedOnly bool) (spaces.Node, bool, error) {
	if s.inaccessible[roomID] {
		return spaces.Node{}, false, nil
	}
	known, isKnown := s.known[roomID]
	if isKnown && known.RoomType != spaces.RoomTypeSpace {
		return s.visibleNode(ctx, spaces.Room{Summary: known, ChildrenState: []spaces.StrippedChild{}}, nil)
	}
	h, err := s.ask(ctx, roomID, via, suggestedOnly)
	if err != nil {
		slog.DebugContext(ctx, "hierarchy: no server described a room", "room_id", roomID, "err", err)
		if isKnown { // a space known only from its parent's answer: no children
			return s.visibleNode(ctx, spaces.Room{Summary: known, ChildrenState: []spaces.StrippedChild{}}, nil)
		}
		return spaces.Node{}, false, nil
	}
	for _, c := range h.Children {
		s.known[c.RoomID] = c
	}
	for _, id := range h.Inaccessible {
		s.inaccessible[id] = true
	}
	var children []spaces.Child
	if h.Room.RoomType == spaces.RoomTypeSpace {
		children = spaces.SelectChildren(h.Room.ChildrenState, suggestedOnly)
	}
	return s.visibleNode(ctx, spaces.Room{Summary: h.Room.Summary, ChildrenState: spaces.ChildrenState(children)}, children)
}

// errNotAsked: the walk has no way, or no budget left, to ask.
var errNotAsked = errors.New("no other server asked")

// ask asks the servers that may know a room, within the walk's bounds:
// at most maxRemoteHierarchyFetches rooms, and only until remoteDeadline.
func (s *hierarchySource) ask(ctx context.Context, roomID string, via []string, suggestedOnly bool) (spaces.Hierarchy, error) {
	servers := s.a.remoteServers(roomID, via)
	if s.a.RemoteDirectory == nil || len(servers) == 0 || s.fetches >= maxRemoteHierarchyFetches {
		return spaces.Hierarchy{}, errNotAsked
	}
	s.fetches++
	ctx, cancel := context.WithDeadline(ctx, s.remoteDeadline)
	defer cancel()
	return s.a.RemoteDirectory.Hierarchy(ctx, roomID, servers, suggestedOnly)
}

// visibleNode applies the user's view to a room another server described.
func (s *hierarchySource) visibleNode(ctx context.Context, room spaces.Room, children []spaces.Child) (spaces.Node, bool, error) {
	visible, err := spaces.UserMaySee(ctx, room.Summary, s.a.membershipReader(s.userID))
	if err != nil {
		return spaces.Node{}, false, err
	}
	return spaces.Node{Room: room, Children: children, Visible: visible}, true, nil
}

// remoteServers are the servers to ask about a room: those named, then
// the one in its ID, never this one, without repeats.
func (a *API) remoteServers(roomID string, via []string) []string {
	servers := slices.Clone(via)
	if id, err := mxcore.ParseRoomID(roomID); err == nil && id.Server != "" {
		servers = append(servers, id.Server)
	}
	servers = slices.DeleteFunc(servers, func(s string) bool { return s == a.ServerName })
	return withoutRepeats(servers)
}

// membershipReader reads userID's membership of rooms known here: the
// stored membership, or an invite received over federation into a room
// this server is not in; "" for none.
func (a *API) membershipReader(userID string) spaces.MembershipOf {
	return func(ctx context.Context, roomID string) (string, error) {
		m, _, err := a.Rooms.Membership(ctx, roomID, userID)
		if err != nil && !errors.Is(err, roomserver.ErrUnknownRoom) {
			return "", err
		}
		if m != "" || a.RemoteRooms == nil {
			return m, nil
		}
		if pending, err := a.RemoteRooms.PendingInvite(ctx, roomID, userID); err != nil || pending {
			return "invite", err
		}
		return "", nil
	}
}
