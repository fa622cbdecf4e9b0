package federation

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// The joining side: a local user joins, leaves, knocks on or invites into
// a room through another server. Errors are Matrix errors the client API
// can pass on.

// maxJoinCandidates bounds the servers one join tries.
const maxJoinCandidates = 10

// Join joins userID to roomID through the first of servers that lets it:
// make_join, sign the template, send_join, check the state and auth chain
// that come back, and persist them and the join, after which the room is
// known here with its current state. content is the member event's
// content (membership, displayname, avatar_url, reason).
func (m *Membership) Join(ctx context.Context, userID, roomID string, servers []string, content []byte) error {
	if inv, err := m.Store.RemoteInvite(ctx, roomID, userID); err == nil {
		if u, err := mxcore.ParseUserID(inv.Sender); err == nil {
			servers = append([]string{u.Server}, servers...)
		}
	}
	return m.throughCandidates(ctx, roomID, userID, servers, policy.ActionJoin, func(server string) error {
		return m.joinVia(ctx, server, userID, roomID, content)
	})
}

// Knock knocks on roomID for userID through the first of servers that
// accepts it. The room stays unknown here: the knock waits for an answer
// the resident servers send as an invite (or a refusal).
func (m *Membership) Knock(ctx context.Context, userID, roomID string, servers []string, content []byte) error {
	return m.throughCandidates(ctx, roomID, userID, servers, policy.ActionKnock, func(server string) error {
		ev, _, err := m.makeAndSign(ctx, server, "knock", userID, roomID, content)
		if err != nil {
			return err
		}
		_, err = m.sendMembership(ctx, server, "v1/send_knock", ev)
		return err
	})
}

// Leave makes userID leave roomID through another server in it: used to
// reject an invite into a room this server is not in, and for a member of
// a room whose other servers must hear of the leave. It returns
// mxcore's 404 when no other server is known to go through.
func (m *Membership) Leave(ctx context.Context, userID, roomID string, content []byte) error {
	servers := m.leaveCandidates(ctx, userID, roomID)
	pending, err := m.PendingInvite(ctx, roomID, userID)
	if err != nil {
		return err
	}
	if len(servers) == 0 && !pending {
		return mxcore.NotFound("No other server in the room to leave through")
	}
	err = m.throughCandidates(ctx, roomID, userID, servers, policy.ActionLeave, func(server string) error {
		ev, _, err := m.makeAndSign(ctx, server, "leave", userID, roomID, content)
		if err != nil {
			return err
		}
		if _, err := m.sendMembershipV2(ctx, server, "send_leave", ev); err != nil {
			return err
		}
		return m.recordLeave(ctx, ev)
	})
	if err != nil && pending {
		// The user may always decline: when no server takes the
		// rejection, the invite is dropped here all the same.
		slog.InfoContext(ctx, "invite rejected locally only", "room_id", roomID, "err", err)
		return m.Store.DeleteRemoteInvite(ctx, roomID, userID)
	}
	return err
}

// leaveCandidates are the servers a leave can go through: the inviter's
// for a pending invite, else the other servers joined to the room.
func (m *Membership) leaveCandidates(ctx context.Context, userID, roomID string) []string {
	var out []string
	if inv, err := m.Store.RemoteInvite(ctx, roomID, userID); err == nil {
		if u, err := mxcore.ParseUserID(inv.Sender); err == nil {
			out = append(out, u.Server)
		}
	}
	if servers, err := m.Rooms.JoinedServers(ctx, roomID); err == nil {
		out = append(out, servers...)
	}
	if r, err := mxcore.ParseRoomID(roomID); err == nil && r.Server != "" {
		out = append(out, r.Server)
	}
	return m.candidates(out)
}

// recordLeave forgets a pending invite, and in a room known here
// persists the leave as the room's new event, on the state the room has
// here when the prev events the resident chose are not known.
func (m *Membership) recordLeave(ctx context.Context, ev *mxcore.PDU) error {
	pos, err := m.Store.RejectRemoteInvite(ctx, ev.RoomID(), ev.Sender(), ev.JSON())
	switch {
	case err == nil && m.InviteStored != nil:
		m.InviteStored(ev.RoomID(), ev.Sender(), pos)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return err
	}
	state, err := m.Rooms.CurrentState(ctx, ev.RoomID())
	if errors.Is(err, roomserver.ErrUnknownRoom) {
		return nil
	}
	if err != nil {
		return err
	}
	ids := make([]string, len(state))
	for i, e := range state {
		ids[i] = e.EventID
	}
	results, err := m.Rooms.Persist(ctx, ev.RoomID(), []roomserver.InputEvent{{PDU: ev, Origin: roomserver.OriginLocal, StateBefore: ids}})
	if err != nil {
		return err
	}
	return results[0].Err
}

// throughCandidates tries each candidate server the policy allows until
// one succeeds, and returns the last error otherwise.
func (m *Membership) throughCandidates(ctx context.Context, roomID, userID string, servers []string, action policy.Action, try func(server string) error) error {
	if m.Client == nil {
		return mxcore.Forbidden("Federation is not available")
	}
	candidates := m.candidates(servers)
	if len(candidates) == 0 {
		return mxcore.NotFound("No server to reach the room through")
	}
	var lastErr error
	for _, server := range candidates {
		if err := m.allowed(ctx, policy.Input{Action: action, Server: server, RoomID: roomID, UserID: userID}); err != nil {
			lastErr = err
			continue
		}
		err := try(server)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lastErr = err
	}
	return membershipClientError(lastErr)
}

// candidates is servers without this one and repeats, bounded.
func (m *Membership) candidates(servers []string) []string {
	var out []string
	for _, s := range servers {
		if s != m.ServerName && mxcore.ValidServerName(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
		if len(out) == maxJoinCandidates {
			break
		}
	}
	return out
}

// membershipClientError turns a remote server's refusal into the same Matrix error
// for the client, and a failure to reach any server into 502.
func membershipClientError(err error) error {
	var mxErr *mxcore.Error
	if errors.As(err, &mxErr) {
		return mxErr
	}
	var remote *RemoteError
	if errors.As(err, &remote) && remote.Status >= 400 && remote.Status < 500 && remote.ErrCode != "" {
		return mxcore.NewError(remote.Status, remote.ErrCode, "%s: %s", remote.Destination, remote.Message)
	}
	return mxcore.NewError(http.StatusBadGateway, mxcore.ErrUnknown, "Could not reach the room's servers: %v", err)
}

// makeAndSign asks server for a template of userID's membership in
// roomID (make_join, make_leave or make_knock) and turns it into our
// signed event.
func (m *Membership) makeAndSign(ctx context.Context, server, membership, userID, roomID string, content []byte) (*mxcore.PDU, mxcore.RoomVersion, error) {
	path := "/_matrix/federation/v1/make_" + membership + "/" + url.PathEscape(roomID) + "/" + url.PathEscape(userID)
	if membership != "leave" {
		q := url.Values{"ver": mxcore.KnownRoomVersions()}
		path += "?" + q.Encode()
	}
	resp, err := m.Client.Do(ctx, server, http.MethodGet, path, nil)
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		return nil, mxcore.RoomVersion{}, err
	}
	var body struct {
		Event       json.RawMessage `json:"event"`
		RoomVersion string          `json:"room_version"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil || len(body.Event) == 0 {
		return nil, mxcore.RoomVersion{}, fmt.Errorf("%s: make_%s answer has no event", server, membership)
	}
	if body.RoomVersion == "" {
		body.RoomVersion = "1"
	}
	ver, ok := mxcore.GetRoomVersion(body.RoomVersion)
	if !ok {
		return nil, ver, mxcore.NewError(http.StatusBadRequest, mxcore.ErrUnsupportedRoomVer, "The room's version %q is not supported here", body.RoomVersion)
	}
	ev, err := m.signTemplate(body.Event, ver, membership, userID, roomID, content)
	return ev, ver, err
}

// signTemplate checks that a template is userID's membership event in
// roomID, fills in our content and timestamp, and hashes and signs it.
func (m *Membership) signTemplate(raw []byte, ver mxcore.RoomVersion, membership, userID, roomID string, content []byte) (*mxcore.PDU, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("template is not a JSON object: %w", err)
	}
	t := gjson.ParseBytes(raw)
	if t.Get("type").Str != "m.room.member" || t.Get("sender").Str != userID || t.Get("state_key").Str != userID ||
		t.Get("room_id").Str != roomID || t.Get("content.membership").Str != membership {
		return nil, errors.New("the template is not the membership event asked for")
	}
	merged, err := templateContent(content, membership, t.Get("content"))
	if err != nil {
		return nil, err
	}
	fields["content"] = merged
	fields["origin_server_ts"] = joinMarshal(m.now().UnixMilli())
	fields["origin"] = joinMarshal(m.ServerName)
	delete(fields, "hashes")
	delete(fields, "signatures")
	delete(fields, "unsigned")
	if ver.EventRefsAreHashPairs {
		fields["event_id"] = joinMarshal("$" + joinRandomLocalpart() + ":" + m.ServerName)
	}
	return m.hashAndSign(joinMarshal(fields), ver)
}

// templateContent is our member content with the membership, and the
// authorising user of a restricted join kept from the template.
func templateContent(content []byte, membership string, tmpl gjson.Result) (json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if len(content) > 0 {
		if err := json.Unmarshal(content, &out); err != nil {
			return nil, fmt.Errorf("member content: %w", err)
		}
	}
	out["membership"] = joinMarshal(membership)
	if via := tmpl.Get("join_authorised_via_users_server"); via.Type == gjson.String {
		out["join_authorised_via_users_server"] = joinMarshal(via.Str)
	}
	return joinMarshal(out), nil
}

func (m *Membership) hashAndSign(raw []byte, ver mxcore.RoomVersion) (*mxcore.PDU, error) {
	canon := mxcore.CanonicalJSON
	if !ver.StrictCanonicalJSON {
		canon = mxcore.CanonicalJSONLax
	}
	raw, err := canon(raw)
	if err == nil {
		raw, err = mxcore.AddContentHash(raw)
	}
	if err == nil {
		raw, err = mxcore.SignEvent(raw, m.ServerName, m.KeyID, m.PrivateKey, ver)
	}
	if err != nil {
		return nil, err
	}
	return mxcore.NewPDU(raw, ver)
}

// sendMembership PUTs a signed membership event to server's send_join,
// send_leave or send_knock (endpoint is "v2/send_join" etc.) and returns
// the answer's body.
func (m *Membership) sendMembership(ctx context.Context, server, endpoint string, ev *mxcore.PDU) ([]byte, error) {
	path := "/_matrix/federation/" + endpoint + "/" + url.PathEscape(ev.RoomID()) + "/" + url.PathEscape(ev.EventID())
	resp, err := m.Client.Do(ctx, server, http.MethodPut, path, json.RawMessage(ev.JSON()))
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// joinVia is one attempt to join through server.
func (m *Membership) joinVia(ctx context.Context, server, userID, roomID string, content []byte) error {
	ev, ver, err := m.makeAndSign(ctx, server, "join", userID, roomID, content)
	if err != nil {
		return err
	}
	// Without omit_members: partial-state joins are not supported here,
	// so the resident must send the full state.
	body, err := m.sendMembershipV2(ctx, server, "send_join", ev)
	if err != nil {
		return err
	}
	var resp struct {
		State     []json.RawMessage `json:"state"`
		AuthChain []json.RawMessage `json:"auth_chain"`
		Event     json.RawMessage   `json:"event"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("%s: send_join answer: %w", server, err)
	}
	ev = m.residentSigned(ctx, server, ev, resp.Event, ver)
	if err := m.persistJoin(ctx, ver, roomID, ev, resp.State, resp.AuthChain); err != nil {
		return err
	}
	return m.Store.DeleteRemoteInvite(ctx, roomID, userID)
}

// residentSigned prefers the join as the resident returned it, which for
// a restricted room carries the authorising server's signature, when it
// is the same event still signed by us.
func (m *Membership) residentSigned(ctx context.Context, server string, ours *mxcore.PDU, theirs []byte, ver mxcore.RoomVersion) *mxcore.PDU {
	if len(theirs) == 0 {
		return ours
	}
	ev, err := mxcore.NewPDU(theirs, ver)
	if err != nil || ev.EventID() != ours.EventID() || !sameContentJSON(ev.Content(), ours.Content()) {
		return ours
	}
	if m.Keys.VerifyEventFrom(ctx, m.ServerName, ev.JSON(), ver) != nil {
		return ours
	}
	return ev
}

func sameContentJSON(a, b []byte) bool {
	ca, err1 := mxcore.CanonicalJSONLax(a)
	cb, err2 := mxcore.CanonicalJSONLax(b)
	return err1 == nil && err2 == nil && string(ca) == string(cb)
}

// Invite sends sender's invite of a user of another server: the event is
// built here, signed by the invitee's server through PUT /v2/invite, and
// then persisted with both signatures.
func (m *Membership) Invite(ctx context.Context, sender, roomID, invitee string, content []byte) error {
	if m.Client == nil {
		return mxcore.Forbidden("Federation is not available")
	}
	target, err := mxcore.ParseUserID(invitee)
	if err != nil {
		return mxcore.InvalidParam("Invalid user_id")
	}
	if err := m.allowed(ctx, policy.Input{Action: policy.ActionInvite, Server: target.Server, RoomID: roomID, UserID: invitee}); err != nil {
		return err
	}
	ev, err := m.Rooms.BuildEvent(ctx, roomserver.EventRequest{RoomID: roomID, Sender: sender, Type: "m.room.member", StateKey: &invitee, Content: content})
	if err != nil {
		return err
	}
	if err := m.Rooms.AuthorizeOnCurrentState(ctx, ev); err != nil {
		return err
	}
	signed, err := m.inviteRemote(ctx, target.Server, ev)
	if err != nil {
		return membershipClientError(err)
	}
	results, err := m.Rooms.Persist(ctx, roomID, []roomserver.InputEvent{{PDU: signed, Origin: roomserver.OriginLocal}})
	if err != nil {
		return err
	}
	return results[0].Err
}

// inviteRemote asks server to sign the invite and checks what comes back
// is our event with its signature added.
func (m *Membership) inviteRemote(ctx context.Context, server string, ev *mxcore.PDU) (*mxcore.PDU, error) {
	ver := ev.Version()
	state, err := m.strippedStateFor(ctx, ev.RoomID())
	if err != nil {
		return nil, err
	}
	path := "/_matrix/federation/v2/invite/" + url.PathEscape(ev.RoomID()) + "/" + url.PathEscape(ev.EventID())
	body := map[string]any{"room_version": ver.ID, "event": json.RawMessage(ev.JSON()), "invite_room_state": state}
	resp, err := m.Client.Do(ctx, server, http.MethodPut, path, body)
	if err == nil {
		err = resp.Err()
	}
	var raw []byte
	switch {
	case unknownEndpoint(err):
		raw, err = m.inviteV1(ctx, server, ev, state)
	case err == nil:
		raw = resp.Body
	}
	if err != nil {
		return nil, err
	}
	var answer struct {
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return nil, fmt.Errorf("%s: invite answer: %w", server, err)
	}
	if gjson.GetBytes(answer.Event, "unsigned").Exists() {
		// v1 sends back the stripped state we put there; it is not ours to keep.
		if answer.Event, err = withUnsigned(answer.Event, nil); err != nil {
			return nil, fmt.Errorf("%s: invite answer: %w", server, err)
		}
	}
	signed, err := mxcore.NewPDU(answer.Event, ver)
	if err != nil || signed.EventID() != ev.EventID() || !sameContentJSON(signed.Content(), ev.Content()) {
		return nil, fmt.Errorf("%s returned a different event than the invite it was asked to sign", server)
	}
	if err := m.Keys.VerifyEventFrom(ctx, server, signed.JSON(), ver); err != nil {
		return nil, fmt.Errorf("%s did not sign the invite: %w", server, err)
	}
	return signed, nil
}

// ResolveAlias asks the alias's server which room it names and which
// servers are in it (GET /_matrix/federation/v1/query/directory).
func (m *Membership) ResolveAlias(ctx context.Context, alias string) (string, []string, error) {
	a, err := mxcore.ParseRoomAlias(alias)
	if err != nil {
		return "", nil, mxcore.InvalidParam("Invalid room alias")
	}
	if m.Client == nil || a.Server == m.ServerName {
		return "", nil, mxcore.NotFound("Room alias not found")
	}
	resp, err := m.Client.Do(ctx, a.Server, http.MethodGet, "/_matrix/federation/v1/query/directory?"+url.Values{"room_alias": {alias}}.Encode(), nil)
	if err != nil {
		// An alias whose server cannot be reached cannot be found.
		return "", nil, mxcore.NotFound("Room alias " + alias + " not found: its server could not be reached")
	}
	if err := resp.Err(); err != nil {
		return "", nil, membershipClientError(err)
	}
	var body struct {
		RoomID  string   `json:"room_id"`
		Servers []string `json:"servers"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return "", nil, membershipClientError(fmt.Errorf("%s: directory answer: %w", a.Server, err))
	}
	if _, err := mxcore.ParseRoomID(body.RoomID); err != nil {
		return "", nil, membershipClientError(fmt.Errorf("%s: directory answer has no room ID", a.Server))
	}
	return body.RoomID, append(m.candidates(body.Servers), a.Server), nil
}

// PendingInvite reports whether userID has an invite into roomID that
// arrived over federation for a room this server is not in.
func (m *Membership) PendingInvite(ctx context.Context, roomID, userID string) (bool, error) {
	_, err := m.Store.RemoteInvite(ctx, roomID, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func joinMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with values that always encode
	}
	return b
}

func joinRandomLocalpart() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
