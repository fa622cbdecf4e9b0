package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Transaction endpoints: the txnId scope is one device and one endpoint.
const (
	txnSend   = "send"
	txnRedact = "redact"
)

// eventIDResponse is the answer of every endpoint that sends an event.
type eventIDResponse struct {
	EventID string `json:"event_id"`
}

// readContent reads a body that must be a JSON object: the event content.
func readContent(r *http.Request) ([]byte, error) {
	body, err := mxhttp.ReadBody(r)
	if err != nil {
		return nil, err
	}
	if len(body) > mxcore.MaxPDUSize {
		// The event around it would be larger still; say so plainly
		// rather than as a malformed event.
		return nil, mxcore.TooLarge("Event content is over the 65536-byte event limit")
	}
	var obj map[string]json.RawMessage
	if err := mxhttp.DecodeJSONBytes(body, &obj); err != nil {
		return nil, err
	}
	return body, nil
}

// sendMessage implements PUT /rooms/{roomId}/send/{eventType}/{txnId}.
// The transaction ID is kept out of the stored event (it is private to
// the sending device); TransactionIDFor hands it to that device's /sync.
func (a *API) sendMessage(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	content, err := readContent(r)
	if err != nil {
		return nil, err
	}
	req := roomserver.EventRequest{RoomID: roomID, Sender: roomCaller(r).UserID, Type: roomPathParam(r, "eventType"), Content: content}
	if err := a.checkThreadRoot(r.Context(), req); err != nil { // relations.go
		return nil, err
	}
	// Inside the transaction, so that a retry of a sent reaction gets its
	// event ID back rather than M_DUPLICATE_ANNOTATION.
	return a.sendOnceChecked(r, txnSend, req, func() error { return a.checkDuplicateAnnotation(r.Context(), req) })
}

// sendOnce sends req unless this device already sent the request's txnId
// to the endpoint, in which case it answers the first event ID.
func (a *API) sendOnce(r *http.Request, endpoint string, req roomserver.EventRequest) (eventIDResponse, error) {
	return a.sendOnceChecked(r, endpoint, req, nil)
}

// sendOnceChecked is sendOnce that runs check, if any, before a first send.
func (a *API) sendOnceChecked(r *http.Request, endpoint string, req roomserver.EventRequest, check func() error) (eventIDResponse, error) {
	s := roomCaller(r)
	key := txnKey{user: s.UserID, device: s.DeviceID, endpoint: endpoint, txnID: roomPathParam(r, "txnId")}
	id, err := a.txns().do(r.Context(), key, func() (string, error) {
		if check != nil {
			if err := check(); err != nil {
				return "", err
			}
		}
		id, err := a.Rooms.SendEvent(r.Context(), req)
		return id, roomError(err)
	})
	return eventIDResponse{EventID: id}, err
}

// sendState implements PUT /rooms/{roomId}/state/{eventType}/{stateKey},
// with or without the state key (empty then).
func (a *API) sendState(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	content, err := readContent(r)
	if err != nil {
		return nil, err
	}
	stateKey := roomPathParam(r, "stateKey")
	req := roomserver.EventRequest{RoomID: roomID, Sender: roomCaller(r).UserID, Type: roomPathParam(r, "eventType"), StateKey: &stateKey, Content: content}
	if err := a.checkMembershipState(r, req); err != nil {
		return nil, err
	}
	if err := a.checkCanonicalAlias(r.Context(), req); err != nil {
		return nil, err
	}
	id, err := a.Rooms.SendEvent(r.Context(), req)
	if err != nil {
		return nil, roomError(err)
	}
	return eventIDResponse{EventID: id}, nil
}

// checkMembershipState keeps m.room.member changes to the membership
// endpoints, where they are checked (and later federated) properly;
// other fields of the caller's own member event (displayname) may change.
func (a *API) checkMembershipState(r *http.Request, req roomserver.EventRequest) error {
	if req.Type != "m.room.member" {
		return nil
	}
	var c struct {
		Membership string `json:"membership"`
	}
	_ = json.Unmarshal(req.Content, &c)
	current, _, err := a.Rooms.Membership(r.Context(), req.RoomID, *req.StateKey)
	if err != nil {
		return roomError(err)
	}
	if *req.StateKey != req.Sender || c.Membership != current {
		return mxcore.Forbidden("Use the membership endpoints (/join, /invite, /leave, /kick, /ban, /unban) to change membership")
	}
	return nil
}

// redact implements PUT /rooms/{roomId}/redact/{eventId}/{txnId}.
func (a *API) redact(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Reason string `json:"reason,omitempty"`
	}
	if err := decodeRoomBody(r, &body); err != nil {
		return nil, err
	}
	eventID := roomPathParam(r, "eventId")
	if _, err := mxcore.ParseEventID(eventID); err != nil {
		return nil, mxcore.InvalidParam("Invalid event ID: " + eventID)
	}
	if _, err := a.checkRedactPower(r.Context(), roomID, roomCaller(r), eventID); err != nil {
		return nil, err
	}
	content, _ := json.Marshal(body)
	req := roomserver.EventRequest{RoomID: roomID, Sender: roomCaller(r).UserID, Type: "m.room.redaction", Content: content, Redacts: eventID}
	// The roomserver records the redaction on its target when it applies.
	return a.sendOnce(r, txnRedact, req)
}

// decodeRoomBody decodes a JSON object body; an empty body counts as
// {} since the spec marks these bodies' fields optional and some clients
// send none.
func decodeRoomBody(r *http.Request, dst any) error {
	body, err := mxhttp.ReadBody(r)
	if err != nil || len(body) == 0 {
		return err
	}
	return mxhttp.DecodeJSONBytes(body, dst)
}

// checkRedactPower refuses to redact someone else's event without the
// room's redact level. From room version 3 the auth rules no longer check
// it (event IDs carry no server name), leaving it to the server that
// accepts the redaction from its user: this one. known reports whether
// the target is an event of this room, i.e. one the redaction applies to.
// A suspended account may redact only its own events.
func (a *API) checkRedactPower(ctx context.Context, roomID string, caller Session, eventID string) (known bool, err error) {
	userID := caller.UserID
	infos, err := a.Rooms.Events(ctx, []string{eventID})
	if err != nil {
		return false, err
	}
	if len(infos) == 0 || infos[0].Event.RoomID() != roomID {
		return false, nil
	}
	if infos[0].Event.Sender() == userID {
		return true, nil
	}
	if caller.Suspended {
		return true, userSuspended()
	}
	return true, a.requireRedactLevel(ctx, roomID, userID)
}

// powerState loads what power level questions need of a room's current
// state: its create event (creators) and power levels.
func (a *API) powerState(ctx context.Context, roomID string) (roomserver.AuthStateMap, error) {
	var events []roomserver.Event
	for _, typ := range []string{"m.room.create", "m.room.power_levels"} {
		ev, err := a.Rooms.CurrentStateEvent(ctx, roomID, typ, "")
		if err == nil {
			events = append(events, ev)
		} else if !errors.Is(err, roomserver.ErrNoStateEvent) {
			return nil, roomError(err)
		}
	}
	return roomserver.NewAuthStateMap(events...), nil
}

// requireRedactLevel refuses unless the user has the redact power level.
func (a *API) requireRedactLevel(ctx context.Context, roomID, userID string) error {
	state, err := a.powerState(ctx, roomID)
	if err != nil {
		return err
	}
	if roomserver.PowerLevelOf(userID, state) < roomserver.ActionPowerLevel(roomserver.PowerRedact, state) {
		return mxcore.Forbidden("You may only redact your own events: redacting others' needs the redact power level")
	}
	return nil
}

// checkCanonicalAlias refuses an m.room.canonical_alias naming an alias
// that does not point to the room (400 M_BAD_ALIAS, as the spec asks of
// servers). Local aliases are looked up; another server's alias cannot be
// checked until federation can query it, so it is refused for now.
func (a *API) checkCanonicalAlias(ctx context.Context, req roomserver.EventRequest) error {
	if req.Type != "m.room.canonical_alias" || *req.StateKey != "" {
		return nil
	}
	var c struct {
		Alias      string   `json:"alias"`
		AltAliases []string `json:"alt_aliases"`
	}
	if err := json.Unmarshal(req.Content, &c); err != nil {
		return mxcore.BadJSON("alias and alt_aliases must be strings")
	}
	aliases := c.AltAliases
	if c.Alias != "" {
		aliases = append(aliases, c.Alias)
	}
	for _, alias := range aliases {
		if err := a.aliasPointsTo(ctx, alias, req.RoomID); err != nil {
			return err
		}
	}
	return nil
}

func (a *API) aliasPointsTo(ctx context.Context, alias, roomID string) error {
	parsed, err := mxcore.ParseRoomAlias(alias)
	if err != nil {
		return mxcore.InvalidParam("Invalid room alias: " + alias)
	}
	badAlias := mxcore.NewError(http.StatusBadRequest, "M_BAD_ALIAS", "The alias %q does not point to this room", alias)
	if parsed.Server != a.ServerName {
		badAlias.Message = fmt.Sprintf("The alias %q is on another server and cannot be checked yet", alias)
		return badAlias
	}
	target, _, err := a.Store.AliasRoom(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && target != roomID) {
		return badAlias
	}
	return err
}
