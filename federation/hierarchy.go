package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/spaces"
)

// Room discovery for other servers (server-server API, "Spaces" and
// "Public Room Directory"): GET /hierarchy/{roomId} describes a space
// this server is in and the children the asking server may see, and
// GET/POST /publicRooms list this server's published rooms. Both go
// through the egress wrapper, and each room they describe besides the
// one the wrapper decided on asks the policy itself, so a room the policy
// keeps from a server is left out.

// PublicDirectory serves this server's published room directory (the
// client API does); body is a POST /publicRooms request.
type PublicDirectory interface {
	ServePublicRooms(ctx context.Context, body json.RawMessage) (any, error)
}

// mountDiscovery registers /hierarchy (with the reading endpoints'
// sources) and /publicRooms (with a directory).
func (rt *Routes) mountDiscovery(r chi.Router) {
	if rt.Reads != nil {
		rt.egress(r, http.MethodGet, "/v1/hierarchy/{roomId}", policy.ActionServeRoomData, rt.serveHierarchy)
	}
	if rt.Directory != nil {
		rt.egress(r, http.MethodGet, "/v1/publicRooms", policy.ActionServeRoomData, rt.servePublicRoomsGet)
		rt.egress(r, http.MethodPost, "/v1/publicRooms", policy.ActionServeRoomData, rt.servePublicRoomsPost)
	}
}

// serveHierarchy implements GET /v1/hierarchy/{roomId}. The room must be
// one this server is in, whose server ACL admits the asking server and
// which that server could peek or join; otherwise 404, as the spec says.
// Children this server is not in are left out (it cannot describe them);
// those the asking server may not see are listed as inaccessible.
func (rt *Routes) serveHierarchy(r *http.Request) (*Egress, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	roomID := readPathParam(r, "roomId")
	suggestedOnly, err := boolParam(r, "suggested_only")
	if err != nil {
		return nil, err
	}
	summary, ok, err := rt.summaryFor(ctx, roomID, origin)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, mxcore.NotFound("The room is not known here, or your server may not see it")
	}
	out := spaces.Hierarchy{Room: spaces.Room{Summary: summary}, Children: []spaces.Summary{}, Inaccessible: []string{}}
	var children []spaces.Child
	if summary.RoomType == spaces.RoomTypeSpace {
		if children, err = spaces.LocalChildren(ctx, rt.Reads.Rooms, roomID, suggestedOnly); err != nil {
			return nil, err
		}
	}
	out.Room.ChildrenState = spaces.ChildrenState(children)
	for _, c := range children {
		if err := rt.addChild(ctx, &out, c.RoomID, origin); err != nil {
			return nil, err
		}
	}
	return &Egress{RoomID: roomID, JSON: out}, nil
}

// addChild adds a child this server is in to the answer: its summary if
// origin may see it and the policy lets it go there, else its ID among
// the inaccessible.
func (rt *Routes) addChild(ctx context.Context, out *spaces.Hierarchy, roomID, origin string) error {
	if !rt.serverIn(ctx, roomID, rt.Keys.ServerName) {
		return nil
	}
	summary, ok, err := rt.summaryFor(ctx, roomID, origin)
	if err != nil {
		return err
	}
	if ok && rt.policyAllows(ctx, roomID, origin, "/v1/hierarchy/{roomId}") {
		out.Children = append(out.Children, summary)
	} else {
		out.Inaccessible = append(out.Inaccessible, roomID)
	}
	return nil
}

// summaryFor summarises a room this server is in for origin; ok is false
// when this server is not in it, its ACL denies origin, or origin may
// not see it.
func (rt *Routes) summaryFor(ctx context.Context, roomID, origin string) (spaces.Summary, bool, error) {
	rooms := rt.Reads.Rooms
	if !rt.serverIn(ctx, roomID, rt.Keys.ServerName) {
		return spaces.Summary{}, false, nil
	}
	if allowed, err := rooms.ServerAllowedInRoom(ctx, roomID, origin); err != nil || !allowed {
		return spaces.Summary{}, false, err
	}
	summary, err := spaces.LocalSummary(ctx, rooms, roomID)
	if err != nil {
		return spaces.Summary{}, false, err
	}
	visible, err := spaces.ServerMaySee(ctx, rooms, summary, origin)
	return summary, visible, err
}

// serverIn reports whether server has a user joined to the room.
func (rt *Routes) serverIn(ctx context.Context, roomID, server string) bool {
	joined, err := rt.Reads.Rooms.JoinedServers(ctx, roomID)
	return err == nil && slices.Contains(joined, server)
}

// policyAllows asks the policy about one more room an answer describes
// besides the one the egress wrapper decided on.
func (rt *Routes) policyAllows(ctx context.Context, roomID, origin, pattern string) bool {
	if rt.Policy == nil {
		return false
	}
	ok, _ := policy.Allowed(ctx, rt.Policy, policy.Input{
		Action: policy.ActionServeRoomData, Server: origin, RoomID: roomID, Route: federationPrefix + pattern,
	})
	return ok
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		return false, mxcore.InvalidParam(name + " must be true or false")
	}
	return b, nil
}
