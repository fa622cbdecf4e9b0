package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// notInRoom is the 403 of the state and member reads.
func notInRoom() error {
	return mxcore.Forbidden("You aren't a member of the room and weren't previously a member of the room")
}

// visibleState is the room state the user may see, as the spec's
// /state endpoints describe: the current state while joined (or for
// anyone in a world_readable room), the state when they left for a former
// member, M_FORBIDDEN otherwise (unknown rooms included, so the answer
// does not reveal whether a room exists).
func (a *API) visibleState(ctx context.Context, roomID, userID string) ([]storage.StateEntry, error) {
	membership, eventID, err := a.Rooms.Membership(ctx, roomID, userID)
	if errors.Is(err, roomserver.ErrUnknownRoom) {
		return nil, notInRoom()
	}
	if err != nil {
		return nil, err
	}
	switch {
	case membership == "join" || a.worldReadable(ctx, roomID):
		return a.Rooms.CurrentState(ctx, roomID)
	case membership == "leave" || membership == "ban":
		return a.formerMemberState(ctx, roomID, userID, eventID)
	}
	return nil, notInRoom()
}

// callerVisibleState is visibleState for the request's room and caller.
func (a *API) callerVisibleState(r *http.Request) ([]storage.StateEntry, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	return a.visibleState(r.Context(), roomID, roomCaller(r).UserID)
}

// worldReadable reports whether anyone may read the room.
func (a *API) worldReadable(ctx context.Context, roomID string) bool {
	ev, err := a.Rooms.CurrentStateEvent(ctx, roomID, "m.room.history_visibility", "")
	if err != nil {
		return false
	}
	var c struct {
		HistoryVisibility string `json:"history_visibility"`
	}
	return json.Unmarshal(ev.Content(), &c) == nil && c.HistoryVisibility == roomserver.VisibilityWorldReadable
}

// clientEvents loads events and formats them for the client, in order.
func (a *API) clientEvents(ctx context.Context, ids []string) ([]ClientEvent, error) {
	infos, err := a.Rooms.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	return a.formatEvents(ctx, infos)
}

// formatEvents formats loaded events for the caller in ctx: redacted ones
// in their redacted form with unsigned.redacted_because, and the caller's
// own device's sends with unsigned.transaction_id.
func (a *API) formatEvents(ctx context.Context, infos []roomserver.EventInfo) ([]ClientEvent, error) {
	ids := make([]string, len(infos))
	for i, info := range infos {
		ids[i] = info.Event.EventID()
	}
	now := a.now().UnixMilli()
	by, err := a.redactedBy(ctx, ids)
	if err != nil {
		return nil, err
	}
	because, err := a.redactionsFor(ctx, by, now)
	if err != nil {
		return nil, err
	}
	viewer, _ := SessionFrom(ctx)
	out := make([]ClientEvent, 0, len(infos))
	for _, info := range infos {
		id := info.Event.EventID()
		opts := ClientEventOptions{Now: now, RedactedBecause: because[id]}
		opts.TransactionID, _ = a.TransactionIDFor(id, viewer.UserID, viewer.DeviceID)
		out = append(out, NewClientEvent(info.Event, opts))
	}
	return out, a.bundleClientEvents(ctx, viewer.UserID, out)
}

// getState implements GET /rooms/{roomId}/state.
func (a *API) getState(r *http.Request) (any, error) {
	state, err := a.callerVisibleState(r)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(state))
	for i, e := range state {
		ids[i] = e.EventID
	}
	return a.clientEvents(r.Context(), ids)
}

// getStateEvent implements GET /rooms/{roomId}/state/{eventType}/{stateKey}
// (and without the state key): the content, or with format=event the
// whole client event.
func (a *API) getStateEvent(r *http.Request) (any, error) {
	state, err := a.callerVisibleState(r)
	if err != nil {
		return nil, err
	}
	typ, key := roomPathParam(r, "eventType"), roomPathParam(r, "stateKey")
	for _, e := range state {
		if e.Type == typ && e.StateKey == key {
			return a.formatStateEvent(r, e.EventID)
		}
	}
	return nil, mxcore.NotFound("The room has no state with the given type or key")
}

func (a *API) formatStateEvent(r *http.Request, eventID string) (any, error) {
	evs, err := a.clientEvents(r.Context(), []string{eventID})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, mxcore.NotFound("The room has no state with the given type or key")
	}
	switch r.URL.Query().Get("format") {
	case "", "content":
		return evs[0].Content, nil
	case "event":
		return evs[0], nil
	}
	return nil, mxcore.InvalidParam("format must be content or event")
}

// getEvent implements GET /rooms/{roomId}/event/{eventId}. An event the
// user may not see answers 404 like a missing one, as the spec asks.
func (a *API) getEvent(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	return a.visibleEvent(r.Context(), roomID, roomPathParam(r, "eventId"), roomCaller(r).UserID)
}

// getEventByID implements the deprecated GET /events/{eventId}: the same
// as getEvent, in whichever room the event is.
func (a *API) getEventByID(r *http.Request) (any, error) {
	return a.visibleEvent(r.Context(), "", roomPathParam(r, "eventId"), roomCaller(r).UserID)
}

// visibleEvent formats an event of roomID ("" for any room) for a user
// who may see it, and answers M_NOT_FOUND otherwise.
func (a *API) visibleEvent(ctx context.Context, roomID, eventID, userID string) (any, error) {
	notFound := mxcore.NotFound("Event not found")
	infos, err := a.Rooms.Events(ctx, []string{eventID})
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 || infos[0].Rejected != "" || infos[0].SoftFailed {
		return nil, notFound
	}
	if roomID == "" {
		roomID = infos[0].Event.RoomID()
	}
	if infos[0].Event.RoomID() != roomID {
		return nil, notFound
	}
	visible, err := a.Rooms.VisibleToUser(ctx, eventID, userID)
	if err != nil || !visible || a.forgotNow(ctx, roomID, userID) {
		return nil, notFound
	}
	evs, err := a.formatEvents(ctx, infos[:1])
	if err != nil {
		return nil, err
	}
	return evs[0], nil
}

// getMembers implements GET /rooms/{roomId}/members with the membership
// and not_membership filters. The `at` parameter (a sync token) is not
// supported yet and is ignored: members come from the visible state.
func (a *API) getMembers(r *http.Request) (any, error) {
	state, err := a.callerVisibleState(r)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range state {
		if e.Type == "m.room.member" {
			ids = append(ids, e.EventID)
		}
	}
	evs, err := a.clientEvents(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	chunk := []ClientEvent{}
	for _, ev := range evs {
		m := membershipOf(ev.Content)
		if q.Has("membership") && m != q.Get("membership") || q.Has("not_membership") && m == q.Get("not_membership") {
			continue
		}
		chunk = append(chunk, ev)
	}
	return map[string]any{"chunk": chunk}, nil
}

// memberContent is the part of m.room.member content the API reads.
type memberContent struct {
	Membership  string `json:"membership"`
	DisplayName string `json:"displayname"`
	AvatarURL   string `json:"avatar_url"`
}

func membershipOf(content []byte) string {
	var c memberContent
	_ = json.Unmarshal(content, &c)
	return c.Membership
}

// roomMember is one entry of /joined_members.
type roomMember struct {
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// getJoinedMembers implements GET /rooms/{roomId}/joined_members, for
// members of the room (or anyone, in a world_readable room).
func (a *API) getJoinedMembers(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	membership, _, err := a.Rooms.Membership(ctx, roomID, userID)
	if errors.Is(err, roomserver.ErrUnknownRoom) || err == nil && membership != "join" && !a.worldReadable(ctx, roomID) {
		return nil, mxcore.Forbidden("You aren't a member of the room")
	}
	if err != nil {
		return nil, err
	}
	return a.joinedMembers(ctx, roomID)
}

func (a *API) joinedMembers(ctx context.Context, roomID string) (any, error) {
	users, err := a.Rooms.JoinedUsers(ctx, roomID)
	if err != nil {
		return nil, err
	}
	joined := make(map[string]roomMember, len(users))
	for _, u := range users {
		var c memberContent
		if ev, err := a.Rooms.CurrentStateEvent(ctx, roomID, "m.room.member", u); err == nil {
			_ = json.Unmarshal(ev.Content(), &c)
		}
		joined[u] = roomMember{DisplayName: c.DisplayName, AvatarURL: c.AvatarURL}
	}
	return map[string]any{"joined": joined}, nil
}
