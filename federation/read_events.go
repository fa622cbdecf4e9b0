package federation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// readAuthChainLimit bounds the auth chain of one /state or /event_auth
// answer: far above what real rooms have, well below what would exhaust
// memory.
const readAuthChainLimit = 100_000

// serveEvent implements GET /v1/event/{eventId}.
func (rt *Routes) serveEvent(r *http.Request) (*Egress, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	info, err := rt.roomEvent(ctx, "", readPathParam(r, "eventId"))
	if err != nil {
		return nil, err
	}
	roomID := info.Event.RoomID()
	if err := rt.checkRoomAccess(ctx, roomID, origin); err != nil {
		return nil, err
	}
	if err := rt.checkVisible(ctx, info, origin); err != nil {
		return nil, err
	}
	pdus, err := rt.servedEvents(ctx, []string{info.Event.EventID()}, origin, false)
	if err != nil {
		return nil, err
	}
	return &Egress{RoomID: roomID, EventType: info.Event.Type(), JSON: rt.envelope(pdus)}, nil
}

func (rt *Routes) envelope(pdus []json.RawMessage) pduEnvelope {
	return pduEnvelope{Origin: rt.Keys.ServerName, OriginServerTS: time.Now().UnixMilli(), PDUs: pdus}
}

// stateRequest is a checked /state or /state_ids request: the state
// before the event, as the spec's "state at the event".
type stateRequest struct {
	roomID   string
	stateIDs []string
	authIDs  []string
}

func (rt *Routes) readStateRequest(r *http.Request) (stateRequest, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	req := stateRequest{roomID: readPathParam(r, "roomId")}
	eventID := r.URL.Query().Get("event_id")
	if eventID == "" {
		return req, mxcore.MissingParam("event_id is required")
	}
	if err := rt.checkRoomAccess(ctx, req.roomID, origin); err != nil {
		return req, err
	}
	info, err := rt.roomEvent(ctx, req.roomID, eventID)
	if err != nil {
		return req, err
	}
	if err := rt.checkVisible(ctx, info, origin); err != nil {
		return req, err
	}
	state, err := rt.Reads.Rooms.StateAt(ctx, eventID, roomserver.StateBeforeEvent)
	if errors.Is(err, roomserver.ErrMissingState) {
		return req, mxcore.NotFound("The state at this event is not known here")
	}
	if err != nil {
		return req, err
	}
	for _, e := range state {
		req.stateIDs = append(req.stateIDs, e.EventID)
	}
	if req.authIDs, err = rt.authChainIDs(ctx, req.stateIDs); err != nil {
		return req, err
	}
	return req, nil
}

// authChainIDs is the auth chain of the events, bounded.
func (rt *Routes) authChainIDs(ctx context.Context, ids []string) ([]string, error) {
	chain, err := rt.Reads.Rooms.AuthChain(ctx, ids, readAuthChainLimit)
	if errors.Is(err, roomserver.ErrAuthChainTooLarge) {
		return nil, mxcore.NewError(http.StatusInternalServerError, mxcore.ErrUnknown, "The auth chain is too large to serve")
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, len(chain))
	for i, ev := range chain {
		out[i] = ev.EventID()
	}
	return out, nil
}

// serveStateIDs implements GET /v1/state_ids/{roomId}?event_id=.
func (rt *Routes) serveStateIDs(r *http.Request) (*Egress, error) {
	req, err := rt.readStateRequest(r)
	if err != nil {
		return nil, err
	}
	body := map[string][]string{"pdu_ids": orEmptyList(req.stateIDs), "auth_chain_ids": orEmptyList(req.authIDs)}
	return &Egress{RoomID: req.roomID, JSON: body}, nil
}

// serveState implements GET /v1/state/{roomId}?event_id=.
func (rt *Routes) serveState(r *http.Request) (*Egress, error) {
	req, err := rt.readStateRequest(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	pdus, err := rt.servedEvents(ctx, req.stateIDs, Origin(ctx), false)
	if err != nil {
		return nil, err
	}
	chain, err := rt.servedEvents(ctx, req.authIDs, Origin(ctx), false)
	if err != nil {
		return nil, err
	}
	body := map[string][]json.RawMessage{"pdus": pdus, "auth_chain": chain}
	return &Egress{RoomID: req.roomID, JSON: body}, nil
}

// serveEventAuth implements GET /v1/event_auth/{roomId}/{eventId}: the
// event's full auth chain. Auth events are what every server needs to
// check the event, so they are served whatever the history visibility.
func (rt *Routes) serveEventAuth(r *http.Request) (*Egress, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	roomID := readPathParam(r, "roomId")
	if err := rt.checkRoomAccess(ctx, roomID, origin); err != nil {
		return nil, err
	}
	info, err := rt.roomEvent(ctx, roomID, readPathParam(r, "eventId"))
	if err != nil {
		return nil, err
	}
	ids, err := rt.authChainIDs(ctx, []string{info.Event.EventID()})
	if err != nil {
		return nil, err
	}
	chain, err := rt.servedEvents(ctx, ids, origin, false)
	if err != nil {
		return nil, err
	}
	return &Egress{RoomID: roomID, JSON: map[string][]json.RawMessage{"auth_chain": chain}}, nil
}

func orEmptyList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
