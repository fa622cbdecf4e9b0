package federation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// The reading endpoints serve room events, state, auth chains, profiles
// and media to other servers (server-server API: "Retrieving events",
// "Backfilling and retrieving missing events", "Querying for
// information", "Content Repository"). Each checks, before it serves a
// room's data, that the room's server ACL admits the requesting server
// and that the server has a user joined to the room, then applies history
// visibility to each event; every route goes through the egress wrapper.

// ReadSources is what the reading endpoints serve from.
type ReadSources struct {
	Rooms *roomserver.RoomServer
	// Events reads stored events with their redaction marks, so redacted
	// events are served redacted.
	Events EventReader
	// Profiles holds local users' profiles; nil leaves /query/profile out.
	Profiles ProfileReader
	// Media serves this server's media to others; nil leaves the
	// federation media endpoints out.
	Media MediaSource
}

// EventReader is the part of storage.RoomStore the reads need.
type EventReader interface {
	Events(ctx context.Context, eventIDs []string) ([]storage.StoredEvent, error)
}

// mountReads registers the reading endpoints when their sources are set.
func (rt *Routes) mountReads(r chi.Router) {
	if rt.Reads == nil {
		return
	}
	rt.egress(r, http.MethodGet, "/v1/event/{eventId}", policy.ActionServeRoomData, rt.serveEvent)
	rt.egress(r, http.MethodGet, "/v1/state/{roomId}", policy.ActionServeRoomData, rt.serveState)
	rt.egress(r, http.MethodGet, "/v1/state_ids/{roomId}", policy.ActionServeRoomData, rt.serveStateIDs)
	rt.egress(r, http.MethodGet, "/v1/event_auth/{roomId}/{eventId}", policy.ActionServeRoomData, rt.serveEventAuth)
	rt.egress(r, http.MethodGet, "/v1/backfill/{roomId}", policy.ActionServeRoomData, rt.serveBackfill)
	rt.egress(r, http.MethodPost, "/v1/get_missing_events/{roomId}", policy.ActionServeRoomData, rt.serveMissingEvents)
	if rt.Reads.Profiles != nil {
		rt.egress(r, http.MethodGet, "/v1/query/profile", policy.ActionServeProfile, rt.serveProfile)
	}
	if rt.Reads.Media != nil {
		rt.egress(r, http.MethodGet, "/v1/media/download/{mediaId}", policy.ActionServeMedia, rt.serveMediaDownload)
		rt.egress(r, http.MethodGet, "/v1/media/thumbnail/{mediaId}", policy.ActionServeMedia, rt.serveMediaThumbnail)
	}
}

// checkRoomAccess lets origin read the room's data only when the room is
// known, its server ACL admits origin and origin has a joined user in it.
func (rt *Routes) checkRoomAccess(ctx context.Context, roomID, origin string) error {
	rooms := rt.Reads.Rooms
	if _, err := rooms.RoomVersion(ctx, roomID); err != nil {
		if errors.Is(err, roomserver.ErrUnknownRoom) {
			return mxcore.NotFound("Unknown room")
		}
		return err
	}
	allowed, err := rooms.ServerAllowedInRoom(ctx, roomID, origin)
	if err != nil {
		return err
	}
	if !allowed {
		return mxcore.Forbidden("Server is denied by the room's server ACL")
	}
	joined, err := rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return err
	}
	if !slices.Contains(joined, origin) {
		return mxcore.Forbidden("Server is not in the room")
	}
	return nil
}

// roomEvent loads an event that must belong to roomID; 404 otherwise.
func (rt *Routes) roomEvent(ctx context.Context, roomID, eventID string) (roomserver.EventInfo, error) {
	infos, err := rt.Reads.Rooms.Events(ctx, []string{eventID})
	if err != nil {
		return roomserver.EventInfo{}, err
	}
	// Rejected events are no part of the room to serve.
	if len(infos) == 0 || infos[0].Rejected != "" || (roomID != "" && infos[0].Event.RoomID() != roomID) {
		return roomserver.EventInfo{}, mxcore.NotFound("Unknown event")
	}
	return infos[0], nil
}

// checkVisible refuses an event origin may not see.
func (rt *Routes) checkVisible(ctx context.Context, info roomserver.EventInfo, origin string) error {
	visible, err := rt.visibleTo(ctx, info.Event.EventID(), info.Outlier, info.Event.StateKey() != nil, origin)
	if err != nil {
		return err
	}
	if !visible {
		return mxcore.Forbidden("Server may not see this event")
	}
	return nil
}

// visibleTo applies history visibility. An outlier has no known state
// to apply it with: an outlier state event (the room state and auth
// chain a join brought) is served to servers in the room, which need such
// events to authorise and fill gaps; other outliers are not.
func (rt *Routes) visibleTo(ctx context.Context, eventID string, outlier, isState bool, origin string) (bool, error) {
	if outlier {
		return isState, nil
	}
	return rt.Reads.Rooms.VisibleToServer(ctx, eventID, origin)
}

// servedEvents returns the events in the federation format, in the
// order asked (unknown and rejected ones left out): redacted where a redaction took
// effect, or where redactHidden is set and origin may not see them (so
// the DAG stays walkable without revealing content), and without the
// local-only unsigned section.
func (rt *Routes) servedEvents(ctx context.Context, ids []string, origin string, redactHidden bool) ([]json.RawMessage, error) {
	stored, err := rt.Reads.Events.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]storage.StoredEvent, len(stored))
	for _, se := range stored {
		byID[se.EventID] = se
	}
	out := make([]json.RawMessage, 0, len(stored))
	for _, id := range ids {
		se, ok := byID[id]
		if !ok || se.Rejected != "" {
			continue
		}
		redact := se.RedactedBecause != ""
		if redactHidden && !redact {
			visible, err := rt.visibleTo(ctx, id, se.Outlier, se.StateKey != nil, origin)
			if err != nil {
				return nil, err
			}
			redact = !visible
		}
		raw, err := rt.federationJSON(ctx, se, redact)
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}

// federationJSON is a stored event as another server may receive it.
func (rt *Routes) federationJSON(ctx context.Context, se storage.StoredEvent, redact bool) (json.RawMessage, error) {
	raw := se.JSON
	if redact {
		ver, err := rt.Reads.Rooms.RoomVersion(ctx, se.RoomID)
		if err != nil {
			return nil, err
		}
		if raw, err = mxcore.Redact(raw, ver); err != nil {
			return nil, err
		}
	}
	return withoutUnsigned(raw)
}

// withoutUnsigned drops the event's unsigned section, which holds local
// details (a sender's transaction ID) and is not covered by signatures.
func withoutUnsigned(raw []byte) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	if _, has := fields["unsigned"]; !has {
		return raw, nil
	}
	delete(fields, "unsigned")
	return json.Marshal(fields)
}

// readPathParam returns a path parameter decoded (chi hands back escaped
// values when the request path has escapes that differ from the default
// encoding, as event IDs with '/' or '+' do).
func readPathParam(r *http.Request, name string) string { return mxhttp.PathParam(r, name) }

// pduEnvelope is the transaction envelope /event and /backfill answer with.
type pduEnvelope struct {
	Origin         string            `json:"origin"`
	OriginServerTS int64             `json:"origin_server_ts"`
	PDUs           []json.RawMessage `json:"pdus"`
}
