package federation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
)

// The resident side of joins, leaves and knocks (server-server API,
// "Joining Rooms", "Leaving Rooms", "Knocking"): make_* hands the user's
// server an unsigned event built on the room's current state; send_*
// takes it back signed and runs it through the persist pipeline.

// membershipAction maps a membership to the policy's action.
var membershipAction = map[string]policy.Action{
	"join": policy.ActionJoin, "leave": policy.ActionLeave, "knock": policy.ActionKnock,
}

func (m *Membership) makeJoin(r *http.Request) (any, error) {
	return m.makeMembership(r, "join", true)
}

func (m *Membership) makeLeave(r *http.Request) (any, error) {
	return m.makeMembership(r, "leave", false)
}

func (m *Membership) makeKnock(r *http.Request) (any, error) {
	return m.makeMembership(r, "knock", true)
}

// makeMembership answers make_join, make_leave and make_knock. checkVer
// says whether the request lists the room versions the server supports.
func (m *Membership) makeMembership(r *http.Request, membership string, checkVer bool) (any, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	roomID, userID := memberPathParam(r, "roomId"), memberPathParam(r, "userId")
	if err := m.checkMembershipTarget(ctx, origin, roomID, userID, membership); err != nil {
		return nil, err
	}
	ver, err := m.residentVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if checkVer {
		if err := checkSupportedVersion(r, ver, membership); err != nil {
			return nil, err
		}
	}
	if membership == "knock" && !ver.AllowKnocking {
		return nil, incompatibleVersion(ver.ID, "Room version "+ver.ID+" does not allow knocking")
	}
	var tmpl roomserver.Template
	if membership == "join" {
		tmpl, err = m.restrictedJoinTemplate(ctx, roomID, userID)
	} else {
		content, _ := json.Marshal(map[string]string{"membership": membership})
		tmpl, err = m.Rooms.BuildTemplate(ctx, roomserver.EventRequest{
			RoomID: roomID, Sender: userID, Type: "m.room.member", StateKey: &userID, Content: content,
		})
	}
	if err != nil {
		return nil, templateError(err, roomID)
	}
	return map[string]any{"event": json.RawMessage(tmpl.JSON), "room_version": ver.ID}, nil
}

// checkMembershipTarget applies what every membership endpoint requires:
// well-formed IDs, a user of the requesting server, and the policy's
// consent to that server taking part in the room.
func (m *Membership) checkMembershipTarget(ctx context.Context, origin, roomID, userID, membership string) error {
	if _, err := mxcore.ParseRoomID(roomID); err != nil {
		return mxcore.InvalidParam("Invalid room ID")
	}
	user, err := mxcore.ParseUserID(userID)
	if err != nil {
		return mxcore.InvalidParam("Invalid user ID")
	}
	if user.Server != origin {
		return mxcore.Forbidden("The user is not a user of the requesting server")
	}
	return m.allowed(ctx, policy.Input{Action: membershipAction[membership], Server: origin, RoomID: roomID, UserID: userID})
}

// residentVersion is the version of a room this server is in; 404 when
// it is not.
func (m *Membership) residentVersion(ctx context.Context, roomID string) (mxcore.RoomVersion, error) {
	ver, err := m.Rooms.RoomVersion(ctx, roomID)
	if errors.Is(err, roomserver.ErrUnknownRoom) {
		return ver, mxcore.NotFound("This server is not in the room")
	}
	return ver, err
}

// checkSupportedVersion compares the room's version with the ver query
// parameters ("1" when there are none, as the spec says).
func checkSupportedVersion(r *http.Request, ver mxcore.RoomVersion, membership string) error {
	supported := r.URL.Query()["ver"]
	if len(supported) == 0 && membership == "join" {
		supported = []string{"1"}
	}
	if !slices.Contains(supported, ver.ID) {
		return incompatibleVersion(ver.ID, "Your server does not support the room's version "+ver.ID)
	}
	return nil
}

func incompatibleVersion(ver, msg string) *mxcore.Error {
	e := mxcore.NewError(http.StatusBadRequest, mxcore.ErrIncompatibleRoomVer, "%s", msg)
	e.Extra = map[string]any{"room_version": ver}
	return e
}

// templateError turns BuildTemplate's refusals into Matrix errors.
func templateError(err error, roomID string) error {
	var authErr *roomserver.AuthError
	switch {
	case errors.As(err, &authErr):
		return mxcore.Forbidden(authErr.Msg)
	case errors.Is(err, roomserver.ErrUnknownRoom):
		return mxcore.NotFound("This server is not in the room")
	case errors.Is(err, roomserver.ErrBadEventRequest):
		return mxcore.InvalidParam(err.Error())
	}
	return fmt.Errorf("template for %s: %w", roomID, err)
}

// sendJoin answers send_join v2 with the full state before the join.
// omit_members (a joining server able to take a partial state) is
// ignored, as the spec allows: the resident "may" leave members out, and
// members_omitted says it did not. servers_in_room, which the spec
// requires only with members omitted, is always there, so a joining
// server can rely on it.
func (m *Membership) sendJoin(r *http.Request) (any, error) {
	ev, err := m.acceptMembership(r, "join")
	if err != nil {
		return nil, err
	}
	state, chain, err := m.stateAndAuthChain(r.Context(), ev)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"origin": m.ServerName, "members_omitted": false, "servers_in_room": joinedServersIn(state),
		"state": state, "auth_chain": chain, "event": json.RawMessage(ev.JSON()),
	}, nil
}

// joinedServersIn lists, sorted, the servers of the joined members in
// state events.
func joinedServersIn(state []json.RawMessage) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, raw := range state {
		ev := gjson.ParseBytes(raw)
		if ev.Get("type").Str != "m.room.member" || ev.Get("content.membership").Str != "join" {
			continue
		}
		if server := senderServer(ev.Get("state_key").Str); server != "" && !seen[server] {
			seen[server] = true
			out = append(out, server)
		}
	}
	slices.Sort(out)
	return out
}

func (m *Membership) sendLeave(r *http.Request) (any, error) {
	if _, err := m.acceptMembership(r, "leave"); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (m *Membership) sendKnock(r *http.Request) (any, error) {
	ev, err := m.acceptMembership(r, "knock")
	if err != nil {
		return nil, err
	}
	state, err := m.strippedStateFor(r.Context(), ev.RoomID())
	if err != nil {
		return nil, err
	}
	return map[string]any{"knock_room_state": state}, nil
}

// acceptMembership checks a signed membership event sent to send_join,
// send_leave or send_knock and persists it; an event the auth rules
// refuse is 403.
func (m *Membership) acceptMembership(r *http.Request, membership string) (*mxcore.PDU, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	roomID, eventID := memberPathParam(r, "roomId"), memberPathParam(r, "eventId")
	if err := m.allowed(ctx, policy.Input{Action: membershipAction[membership], Server: origin, RoomID: roomID}); err != nil {
		return nil, err
	}
	body, err := mxhttp.ReadBody(r)
	if err != nil {
		return nil, err
	}
	ver, err := m.residentVersion(ctx, roomID)
	if err != nil {
		return nil, err
	}
	ev, err := m.checkMembershipEvent(ctx, body, ver, roomID, eventID, membership, origin)
	if err != nil {
		return nil, err
	}
	if membership == "join" {
		if ev, err = m.authoriseRestrictedJoin(ctx, ev); err != nil {
			return nil, err
		}
	}
	results, err := m.Rooms.Persist(ctx, roomID, []roomserver.InputEvent{{
		PDU: ev, Origin: roomserver.OriginRemote, SignaturesVerified: true,
	}})
	if err != nil {
		return nil, err
	}
	if err := persistVerdict(results[0]); err != nil {
		return ev, err
	}
	if m.Forward != nil {
		m.Forward(ctx, roomID, ev.EventID(), origin)
	}
	return ev, nil
}

// checkMembershipEvent parses the event and checks that it is what the
// path names, of the membership wanted, sent by a user of the requesting
// server, with a matching content hash and a valid signature of it.
func (m *Membership) checkMembershipEvent(ctx context.Context, body []byte, ver mxcore.RoomVersion, roomID, eventID, membership, origin string) (*mxcore.PDU, error) {
	ev, err := mxcore.NewPDU(body, ver)
	if err != nil {
		return nil, mxcore.BadJSON("Not a valid event of room version " + ver.ID + ": " + err.Error())
	}
	switch {
	case ev.EventID() != eventID || ev.RoomID() != roomID:
		return nil, mxcore.InvalidParam("The event is not the one the path names")
	case ev.Type() != "m.room.member" || ev.StateKey() == nil || *ev.StateKey() != ev.Sender():
		return nil, mxcore.InvalidParam("Not a membership event of its sender")
	case gjson.GetBytes(ev.Content(), "membership").Str != membership:
		return nil, mxcore.InvalidParam("The event's membership is not " + membership)
	}
	if sender, err := mxcore.ParseUserID(ev.Sender()); err != nil || sender.Server != origin {
		return nil, mxcore.Forbidden("The sender is not a user of the requesting server")
	}
	if err := mxcore.CheckContentHash(ev.JSON()); err != nil {
		return nil, mxcore.InvalidParam("Content hash: " + err.Error())
	}
	if err := m.Keys.VerifyEventFrom(ctx, origin, ev.JSON(), ver); err != nil {
		return nil, mxcore.Forbidden("The event is not signed by " + origin)
	}
	return ev, nil
}

// persistVerdict turns the pipeline's fate of a sent event into the
// answer: a refused one is 403, one that could not be placed 400.
func persistVerdict(res roomserver.InputResult) error {
	var missing *roomserver.MissingEventsError
	switch {
	case errors.As(res.Err, &missing):
		return mxcore.InvalidParam("The event refers to events this server does not have")
	case res.Err != nil:
		return mxcore.InvalidParam(res.Err.Error())
	case res.Rejected != "":
		return mxcore.Forbidden("The event is not allowed: " + res.Rejected)
	case res.SoftFailed:
		return mxcore.Forbidden("The event is not allowed by the room's current state")
	}
	return nil
}

// maxServedAuthChain bounds the events one send_join answer carries.
const maxServedAuthChain = 200000

// stateAndAuthChain is the room state before ev and the auth chain of
// that state and of ev, as send_join returns them.
func (m *Membership) stateAndAuthChain(ctx context.Context, ev *mxcore.PDU) (state, chain []json.RawMessage, err error) {
	entries, err := m.Rooms.StateAt(ctx, ev.EventID(), roomserver.StateBeforeEvent)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.EventID
	}
	stateEvents, err := m.Rooms.Events(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	seeds := []*mxcore.PDU{ev}
	for _, info := range stateEvents {
		state = append(state, info.Event.JSON())
		seeds = append(seeds, info.Event)
	}
	chainEvents, err := joinAuthChain(ctx, m.Rooms, seeds, maxServedAuthChain)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range chainEvents {
		chain = append(chain, e.JSON())
	}
	return state, chain, nil
}

// joinAuthChain collects the auth events of seeds, transitively, at most
// limit of them, oldest (by depth) first.
func joinAuthChain(ctx context.Context, rooms *roomserver.RoomServer, seeds []*mxcore.PDU, limit int) ([]*mxcore.PDU, error) {
	seen := map[string]bool{}
	var out []*mxcore.PDU
	frontier := joinAuthRefs(seeds, seen)
	for len(frontier) > 0 {
		infos, err := rooms.Events(ctx, frontier)
		if err != nil {
			return nil, err
		}
		var next []*mxcore.PDU
		for _, info := range infos {
			out = append(out, info.Event)
			next = append(next, info.Event)
		}
		if len(out) > limit {
			return nil, fmt.Errorf("auth chain of more than %d events", limit)
		}
		frontier = joinAuthRefs(next, seen)
	}
	slices.SortStableFunc(out, func(a, b *mxcore.PDU) int { return cmp.Compare(a.Depth(), b.Depth()) })
	return out, nil
}

// joinAuthRefs lists the auth events of evs not seen yet, marking them seen.
func joinAuthRefs(evs []*mxcore.PDU, seen map[string]bool) []string {
	var ids []string
	for _, ev := range evs {
		for _, id := range ev.AuthEventIDs() {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if ev.Version().RoomIDFromCreateEvent && ev.Type() != "m.room.create" {
			if id := "$" + ev.RoomID()[1:]; !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// strippedStateFor is the stripped state that goes with an invite or a
// knock (client-server API, "Stripped state"): the room's create event
// (in full, as the spec now requires) and its name, avatar, join rules,
// canonical alias and encryption.
func (m *Membership) strippedStateFor(ctx context.Context, roomID string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for _, typ := range membershipStrippedTypes {
		ev, err := m.Rooms.CurrentStateEvent(ctx, roomID, typ, "")
		if errors.Is(err, roomserver.ErrNoStateEvent) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ev.JSON())
	}
	return out, nil
}

var membershipStrippedTypes = []string{
	"m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
	"m.room.canonical_alias", "m.room.encryption",
}
