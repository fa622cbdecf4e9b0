package roomserver

import (
	"context"
	"fmt"

	"github.com/warbler-im/warbler/mxcore"
)

// Templates are the unsigned events a resident server hands to a user of
// another server who wants to join, leave or knock (make_join, make_leave,
// make_knock): prev events, auth events and depth chosen here on the
// room's current state; the user's server fills in the rest, hashes and
// signs it, and sends it back to be persisted like any remote event.

// Template is an unsigned event skeleton and the room's version.
type Template struct {
	JSON    []byte
	Version mxcore.RoomVersion
}

// BuildTemplate builds req, whose sender may be a user of another server,
// on the room's current state, and checks that the auth rules would allow
// it there: an *AuthError when they would not, ErrUnknownRoom when the
// room is not known here. Nothing is stored.
func (rs *RoomServer) BuildTemplate(ctx context.Context, req EventRequest) (Template, error) {
	room, err := rs.room(ctx, req.RoomID)
	if err != nil {
		return Template{}, err
	}
	if len(room.extremities) == 0 {
		// Known only through an invite or a knock: no state to build on.
		return Template{}, fmt.Errorf("%w: %s has no timeline here", ErrUnknownRoom, req.RoomID)
	}
	sender, err := mxcore.ParseUserID(req.Sender)
	if err != nil {
		return Template{}, fmt.Errorf("%w: sender: %v", ErrBadEventRequest, err)
	}
	in, err := rs.templateInput(ctx, room, req)
	if err != nil {
		return Template{}, err
	}
	content, err := canonicalContent(in)
	if err != nil {
		return Template{}, err
	}
	if in.ver.EventRefsAreHashPairs {
		in.eventID = "$" + randomID(18) + ":" + sender.Server
	}
	raw, err := writeEvent(in, content)
	if err != nil {
		return Template{}, err
	}
	if err := rs.authorizeTemplate(ctx, raw, in); err != nil {
		return Template{}, err
	}
	return Template{JSON: raw, Version: in.ver}, nil
}

// templateInput is buildOnRoom's choice of prev and auth events without
// its check that the sender is local.
func (rs *RoomServer) templateInput(ctx context.Context, room *roomState, req EventRequest) (buildInput, error) {
	local := req
	local.Sender = "@template:" + rs.cfg.ServerName
	if err := rs.checkRequest(local); err != nil {
		return buildInput{}, err
	}
	ex := room.extremities[:min(len(room.extremities), maxBuildPrevEvents)]
	prevIDs := make([]string, 0, len(ex))
	for _, e := range ex {
		prevIDs = append(prevIDs, e.id)
	}
	authIDs := authEventIDsIn(room.current, room.version, req)
	metas, err := rs.loadEvents(ctx, append(append([]string(nil), prevIDs...), authIDs...))
	if err != nil {
		return buildInput{}, err
	}
	in := buildInput{ver: room.version, roomID: room.id, req: req, ts: rs.now()}
	for _, id := range prevIDs {
		if m := metas[id]; m != nil {
			in.prevs = append(in.prevs, m.pdu)
		}
	}
	for _, id := range authIDs {
		if m := metas[id]; m != nil {
			in.auth = append(in.auth, m.pdu)
		}
	}
	if len(in.prevs) != len(prevIDs) || len(in.auth) != len(authIDs) {
		return buildInput{}, fmt.Errorf("roomserver: events of %s's current state are missing from storage", room.id)
	}
	return in, nil
}

// authorizeTemplate runs the auth rules on the template against the
// state its auth events form. The template is hashed and signed with our
// key only so that it parses as a PDU; that copy is thrown away.
func (rs *RoomServer) authorizeTemplate(ctx context.Context, raw []byte, in buildInput) error {
	signed, err := mxcore.AddContentHash(raw)
	if err == nil {
		signed, err = mxcore.SignEvent(signed, rs.cfg.ServerName, rs.cfg.KeyID, rs.cfg.PrivateKey, in.ver)
	}
	if err != nil {
		return fmt.Errorf("roomserver: template: %w", err)
	}
	pdu, err := mxcore.NewPDU(signed, in.ver)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadEventRequest, err)
	}
	state := templateState{}
	for _, ev := range in.auth {
		if sk := ev.StateKey(); sk != nil {
			state[StateKeyTuple{ev.Type(), *sk}] = ev
		}
	}
	if in.ver.RoomIDFromCreateEvent {
		if create, err := rs.createEventOf(ctx, in); err == nil {
			state[StateKeyTuple{mRoomCreate, ""}] = create
		}
	}
	return Authorize(pdu, state)
}

// createEventOf loads a v12 room's create event, which auth events omit.
func (rs *RoomServer) createEventOf(ctx context.Context, in buildInput) (*mxcore.PDU, error) {
	m, err := rs.loadEvent(ctx, "$"+in.roomID[1:])
	if err != nil {
		return nil, err
	}
	return m.pdu, nil
}

// templateState answers the auth rules from the template's auth events.
type templateState map[StateKeyTuple]*mxcore.PDU

func (s templateState) StateEvent(typ, stateKey string) Event {
	if ev, ok := s[StateKeyTuple{typ, stateKey}]; ok {
		return ev
	}
	return nil
}

// AuthorizeOnCurrentState checks a local event built with BuildEvent
// against the room's current state without storing it: for an invite
// that must be signed by the invitee's server before it can be persisted.
func (rs *RoomServer) AuthorizeOnCurrentState(ctx context.Context, ev *mxcore.PDU) error {
	room, err := rs.room(ctx, ev.RoomID())
	if err != nil {
		return err
	}
	state := templateState{}
	var ids []string
	for _, t := range AuthEventsNeededFor(ev) {
		if id, ok := room.current.Get(t.Type, t.StateKey); ok {
			ids = append(ids, id)
		}
	}
	if room.version.RoomIDFromCreateEvent {
		ids = append(ids, "$"+room.id[1:])
	}
	metas, err := rs.loadEvents(ctx, ids)
	if err != nil {
		return err
	}
	for _, m := range metas {
		if sk := m.pdu.StateKey(); sk != nil {
			state[StateKeyTuple{m.pdu.Type(), *sk}] = m.pdu
		}
	}
	return Authorize(ev, state)
}
