package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
)

// The v1 membership endpoints: send_join, send_leave and invite as servers
// spoke them before their v2 (send_join and send_leave v1 are no longer
// in the spec's current version; their shapes are those of its older
// versions). Their answers are wrapped in a two-element array,
// [200, {...}]. Warbler asks for v2 first and falls back to v1 only when
// the other server does not know the v2 endpoint; as the resident or
// invited server it serves both.

// unknownEndpoint reports whether err is another server's answer that it
// does not have the endpoint: M_UNRECOGNIZED with 404 or 405 as the spec
// says, or 400 as some older servers answered.
func unknownEndpoint(err error) bool {
	var remote *RemoteError
	if !errors.As(err, &remote) || remote.ErrCode != mxcore.ErrUnrecognized {
		return false
	}
	switch remote.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusBadRequest:
		return true
	}
	return false
}

// unwrapV1 takes the object out of a v1 answer, [200, {...}].
func unwrapV1(server string, body []byte) ([]byte, error) {
	v := gjson.ParseBytes(body)
	items := v.Array()
	if !gjson.ValidBytes(body) || !v.IsArray() || len(items) != 2 || !items[1].IsObject() {
		return nil, fmt.Errorf("%s: v1 answer is not [200, {...}]", server)
	}
	return []byte(items[1].Raw), nil
}

// sendMembershipV2 PUTs a signed join or leave (name is "send_join" or
// "send_leave") to server's v2 endpoint, or to its v1 endpoint when the
// server does not know v2, and returns the answer's object either way.
func (m *Membership) sendMembershipV2(ctx context.Context, server, name string, ev *mxcore.PDU) ([]byte, error) {
	body, err := m.sendMembership(ctx, server, "v2/"+name, ev)
	if !unknownEndpoint(err) {
		return body, err
	}
	body, err = m.sendMembership(ctx, server, "v1/"+name, ev)
	if err != nil {
		return nil, err
	}
	return unwrapV1(server, body)
}

// inviteV1 asks server to sign an invite through the v1 endpoint, which
// takes the event itself with the stripped state in its unsigned section,
// and returns the answer's object. v1 knows no room versions: the invited
// server assumes "1" or "2", so other rooms cannot be invited into this way.
func (m *Membership) inviteV1(ctx context.Context, server string, ev *mxcore.PDU, state []json.RawMessage) ([]byte, error) {
	if id := ev.Version().ID; id != "1" && id != "2" {
		return nil, mxcore.NewError(http.StatusBadRequest, mxcore.ErrUnsupportedRoomVer,
			"%s does not support inviting into rooms of version %s", server, id)
	}
	raw, err := withUnsigned(ev.JSON(), map[string]any{"invite_room_state": state})
	if err != nil {
		return nil, err
	}
	path := "/_matrix/federation/v1/invite/" + url.PathEscape(ev.RoomID()) + "/" + url.PathEscape(ev.EventID())
	resp, err := m.Client.Do(ctx, server, http.MethodPut, path, json.RawMessage(raw))
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		return nil, err
	}
	return unwrapV1(server, resp.Body)
}

// withUnsigned is an event's JSON with its unsigned section replaced.
func withUnsigned(raw []byte, unsigned any) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if unsigned == nil {
		delete(obj, "unsigned")
	} else {
		u, err := encodeNoEscape(unsigned)
		if err != nil {
			return nil, err
		}
		obj["unsigned"] = u
	}
	return encodeNoEscape(obj)
}

// encodeNoEscape encodes v as JSON keeping the strings of events as they
// were (no HTML escaping).
func encodeNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// sendJoinV1 answers PUT /_matrix/federation/v1/send_join as v2 does,
// in v1's shape: [200, {origin, state, auth_chain}].
func (m *Membership) sendJoinV1(r *http.Request) (any, error) {
	ev, err := m.acceptMembership(r, "join")
	if err != nil {
		return nil, err
	}
	state, chain, err := m.stateAndAuthChain(r.Context(), ev)
	if err != nil {
		return nil, err
	}
	return []any{http.StatusOK, map[string]any{"origin": m.ServerName, "state": state, "auth_chain": chain}}, nil
}

// sendLeaveV1 answers PUT /_matrix/federation/v1/send_leave: [200, {}].
func (m *Membership) sendLeaveV1(r *http.Request) (any, error) {
	if _, err := m.acceptMembership(r, "leave"); err != nil {
		return nil, err
	}
	return []any{http.StatusOK, struct{}{}}, nil
}

// receiveInviteV1 answers PUT /_matrix/federation/v1/invite: the body is
// the event, the stripped state in its unsigned section, the room version
// "1" or "2" (which differ only in state resolution, not in the event's
// format, so "1" is checked against). The answer is [200, {"event": ...}]
// with the event as it came and our signature added.
func (m *Membership) receiveInviteV1(r *http.Request) (any, error) {
	ctx, origin := r.Context(), Origin(r.Context())
	roomID, eventID := memberPathParam(r, "roomId"), memberPathParam(r, "eventId")
	if err := m.allowed(ctx, policy.Input{Action: policy.ActionInvite, Server: origin, RoomID: roomID}); err != nil {
		return nil, err
	}
	body, err := mxhttp.ReadBody(r)
	if err != nil {
		return nil, err
	}
	if !gjson.ValidBytes(body) || !gjson.ParseBytes(body).IsObject() {
		return nil, mxcore.BadJSON("The body is not a JSON object")
	}
	var roomState []json.RawMessage
	if rs := gjson.GetBytes(body, "unsigned.invite_room_state"); rs.IsArray() {
		for _, e := range rs.Array() {
			roomState = append(roomState, json.RawMessage(e.Raw))
		}
	}
	ver, _ := mxcore.GetRoomVersion("1")
	signed, err := m.acceptInvite(ctx, body, ver, roomID, eventID, origin, roomState)
	if err != nil {
		return nil, err
	}
	return []any{http.StatusOK, map[string]json.RawMessage{"event": signed}}, nil
}
