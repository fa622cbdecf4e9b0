package clientapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/spaces"
	"github.com/warbler-im/warbler/storage"
)

// The published room directory (client-server API, "Room discovery"):
// /publicRooms and /directory/list/room/{roomId}. Another server's
// directory (the server parameter) is asked of that server over
// federation.

// mountPublicDirectory registers the directory reads the spec serves
// without an access token.
func (a *API) mountPublicDirectory(r chi.Router) {
	if a.Rooms == nil {
		return
	}
	r.Get("/publicRooms", a.handle(a.getPublicRooms))
	r.Get("/directory/list/room/{roomId}", a.handle(a.getRoomVisibility))
}

// mountDirectory registers the directory endpoints that need a user.
func (a *API) mountDirectory(r chi.Router) {
	r.Post("/publicRooms", a.handle(a.queryPublicRooms))
	r.Put("/directory/list/room/{roomId}", a.handle(a.setRoomVisibility))
}

// publicRoomsRequest is the POST /publicRooms body (GET sends the same
// in its query).
type publicRoomsRequest struct {
	Limit                int               `json:"limit"`
	Since                string            `json:"since"`
	Filter               publicRoomsFilter `json:"filter"`
	IncludeAllNetworks   bool              `json:"include_all_networks"`
	ThirdPartyInstanceID string            `json:"third_party_instance_id"`
}

// getPublicRooms implements GET /publicRooms.
func (a *API) getPublicRooms(r *http.Request) (any, error) {
	q := r.URL.Query()
	var req publicRoomsRequest
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, mxcore.InvalidParam("limit must be an integer")
		}
		req.Limit = n
	}
	req.Since = q.Get("since")
	req.IncludeAllNetworks = q.Get("include_all_networks") == "true"
	req.ThirdPartyInstanceID = q.Get("third_party_instance_id")
	server := q.Get("server")
	if server != "" && server != a.ServerName {
		// GET takes no access token: asking another server costs
		// federation requests anyone could trigger.
		if err := limited(a.anonymousLookups, addressKey(r)); err != nil {
			return nil, err
		}
	}
	return a.publicRooms(r.Context(), server, req)
}

// queryPublicRooms implements POST /publicRooms.
func (a *API) queryPublicRooms(r *http.Request) (any, error) {
	var req publicRoomsRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	return a.publicRooms(r.Context(), r.URL.Query().Get("server"), req)
}

// check bounds what a filter may ask for.
func (req publicRoomsRequest) check() error {
	if len(req.Filter.GenericSearchTerm) > maxSearchTermLength {
		return mxcore.InvalidParam("generic_search_term is too long")
	}
	if len(req.Filter.RoomTypes) > 100 {
		return mxcore.InvalidParam("room_types lists too many types")
	}
	return nil
}

// publicRooms answers one page of the directory of server ("" is this
// server).
func (a *API) publicRooms(ctx context.Context, server string, req publicRoomsRequest) (any, error) {
	if server != "" && server != a.ServerName {
		return a.remotePublicRooms(ctx, server, req)
	}
	return a.localPublicRooms(ctx, req)
}

// localPublicRooms answers one page of this server's directory; the
// federation /publicRooms serves it to other servers.
func (a *API) localPublicRooms(ctx context.Context, req publicRoomsRequest) (publicRoomsPage, error) {
	offset, err := parseDirectoryToken(req.Since)
	if err != nil {
		return publicRoomsPage{}, err
	}
	if req.ThirdPartyInstanceID != "" {
		// No application service has registered a third-party network,
		// so no room belongs to one.
		return pagePublicRooms(nil, 0, 1), nil
	}
	rooms, err := a.publishedRoomSummaries(ctx, req.Filter)
	if err != nil {
		return publicRoomsPage{}, err
	}
	sortPublicRooms(rooms)
	return pagePublicRooms(rooms, offset, publicRoomsLimit(req.Limit)), nil
}

// publishedRoomSummaries summarises the published rooms that pass the
// filter. Rooms this server no longer knows are skipped.
func (a *API) publishedRoomSummaries(ctx context.Context, filter publicRoomsFilter) ([]publicRoom, error) {
	ids, err := a.Store.PublishedRooms(ctx, maxDirectoryRooms)
	if err != nil {
		return nil, err
	}
	rooms := make([]publicRoom, 0, len(ids))
	for _, id := range ids {
		room, err := a.publicRoomSummary(ctx, id)
		if errors.Is(err, roomserver.ErrUnknownRoom) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if filter.matches(room) {
			rooms = append(rooms, room)
		}
	}
	return rooms, nil
}

// publicRoomSummary is a room's directory entry.
func (a *API) publicRoomSummary(ctx context.Context, roomID string) (publicRoom, error) {
	s, err := spaces.LocalSummary(ctx, a.Rooms, roomID)
	return s.PublicRoom, err
}

// getRoomVisibility implements GET /directory/list/room/{roomId}.
func (a *API) getRoomVisibility(r *http.Request) (any, error) {
	roomID, err := a.knownRoomParam(r)
	if err != nil {
		return nil, err
	}
	published, err := a.Store.RoomPublished(r.Context(), roomID)
	if err != nil {
		return nil, err
	}
	return map[string]string{"visibility": visibilityName(published)}, nil
}

func visibilityName(published bool) string {
	if published {
		return "public"
	}
	return "private"
}

// knownRoomParam reads {roomId}: 404 if this server does not know it.
func (a *API) knownRoomParam(r *http.Request) (string, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return "", err
	}
	if _, err := a.Rooms.RoomVersion(r.Context(), roomID); errors.Is(err, roomserver.ErrUnknownRoom) {
		return "", mxcore.NotFound("Room not found")
	} else if err != nil {
		return "", err
	}
	return roomID, nil
}

// setRoomVisibility implements PUT /directory/list/room/{roomId}. The
// spec leaves who may do it to the server; as in Synapse, a server admin
// may, and so may a joined member with the power to change the room's
// canonical alias, since publishing is advertising the room under its
// name; and so may the room's creator while joined, as the spec's note
// on access control suggests.
func (a *API) setRoomVisibility(r *http.Request) (any, error) {
	roomID, err := a.knownRoomParam(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Visibility string `json:"visibility"`
	}
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	switch body.Visibility {
	case "":
		body.Visibility = "public" // the spec's default
	case "public", "private":
	default:
		return nil, mxcore.InvalidParam("visibility must be public or private")
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	if err := a.requirePublishPower(ctx, roomID, userID); err != nil {
		return nil, err
	}
	if err := a.Store.SetRoomPublished(ctx, roomID, body.Visibility == "public"); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// requirePublishPower refuses unless the user is a server admin, or joined
// and either the room's creator or able to send m.room.canonical_alias.
func (a *API) requirePublishPower(ctx context.Context, roomID, userID string) error {
	if u, err := a.Store.GetUser(ctx, userID); err == nil && u.IsAdmin {
		return nil
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	may, err := a.mayChangeCanonicalAlias(ctx, roomID, userID, true)
	if err != nil {
		return err
	}
	if !may {
		return mxcore.Forbidden("Publishing a room needs the power to change its canonical alias")
	}
	return nil
}

// publishCreatedRoom publishes a room /createRoom made with visibility
// public.
func (a *API) publishCreatedRoom(ctx context.Context, visibility, roomID string) error {
	if visibility != "public" {
		return nil
	}
	return a.Store.SetRoomPublished(ctx, roomID, true)
}
