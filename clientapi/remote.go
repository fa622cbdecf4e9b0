package clientapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
)

// RemoteRooms reaches rooms through other servers: joining, leaving and
// knocking on rooms this server is not in, inviting users of other
// servers, and resolving other servers' aliases. The federation package
// implements it; cmd wires it in (the client API does not import
// federation). Errors it returns are Matrix errors to pass on.
type RemoteRooms interface {
	// Join joins userID to roomID through one of servers; content is the
	// member event's content.
	Join(ctx context.Context, userID, roomID string, servers []string, content []byte) error
	// Leave makes userID leave (or reject an invite into) roomID through
	// another server in it.
	Leave(ctx context.Context, userID, roomID string, content []byte) error
	// Invite sends sender's invite of invitee, a user of another server.
	Invite(ctx context.Context, sender, roomID, invitee string, content []byte) error
	// Knock knocks on roomID for userID through one of servers.
	Knock(ctx context.Context, userID, roomID string, servers []string, content []byte) error
	// ResolveAlias asks an alias's server for the room and its servers.
	ResolveAlias(ctx context.Context, alias string) (roomID string, servers []string, err error)
	// PendingInvite reports whether userID holds an invite into roomID
	// received over federation for a room this server is not in.
	PendingInvite(ctx context.Context, roomID, userID string) (bool, error)
}

// participates reports whether a user of this server is joined to the
// room, so that a membership change can be made here; otherwise it has to
// go through a server that is in the room.
func (a *API) participates(ctx context.Context, roomID string) bool {
	servers, err := a.Rooms.JoinedServers(ctx, roomID)
	return err == nil && slices.Contains(servers, a.ServerName)
}

// joinRemotely decides whether a join must go through other servers:
// no user of this server is in the room, and some other server may be
// (the client named one, the room ID names one, a stale state lists
// one, or the user holds an invite from one). handled is false when the
// join is to be made here.
func (a *API) joinRemotely(ctx context.Context, roomID, userID string, via []string, content []byte) (handled bool, err error) {
	if a.RemoteRooms == nil || a.participates(ctx, roomID) {
		return false, nil
	}
	servers := slices.Clone(via)
	if r, err := mxcore.ParseRoomID(roomID); err == nil && r.Server != "" {
		servers = append(servers, r.Server)
	}
	if known, err := a.Rooms.JoinedServers(ctx, roomID); err == nil {
		servers = append(servers, known...)
	}
	servers = withoutRepeats(slices.DeleteFunc(servers, func(s string) bool { return s == a.ServerName }))
	pending, err := a.RemoteRooms.PendingInvite(ctx, roomID, userID)
	if err != nil {
		return false, err
	}
	if len(servers) == 0 && !pending {
		return false, nil
	}
	return true, a.RemoteRooms.Join(ctx, userID, roomID, servers, content)
}

// remoteAlias resolves an alias of another server.
func (a *API) remoteAlias(ctx context.Context, alias string) (string, []string, error) {
	if a.RemoteRooms == nil {
		return "", nil, aliasNotFound(alias)
	}
	return a.RemoteRooms.ResolveAlias(ctx, alias)
}

// leaveRemote decides whether a leave must go through another server:
// the room is not joined here (an invite to reject) or other servers are
// in it and must learn of the leave. handled is false when the leave is
// to be made locally instead.
func (a *API) leaveRemote(ctx context.Context, roomID, userID string, content []byte) (handled bool, err error) {
	if a.RemoteRooms == nil {
		return false, nil
	}
	pending, err := a.RemoteRooms.PendingInvite(ctx, roomID, userID)
	if err != nil {
		return false, err
	}
	if !pending && !a.hasOtherServers(ctx, roomID) {
		return false, nil
	}
	err = a.RemoteRooms.Leave(ctx, userID, roomID, content)
	if pending || err == nil {
		return true, err
	}
	// The other servers could not take the leave: leave here, so the user
	// can always leave; the room's servers learn of it later.
	return false, nil
}

// hasOtherServers reports whether servers besides this one are joined to
// a room known here.
func (a *API) hasOtherServers(ctx context.Context, roomID string) bool {
	servers, err := a.Rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(servers, func(s string) bool { return s != a.ServerName })
}

// maxViaServers bounds the servers a client may name for a join.
const maxViaServers = 20

// roomTarget reads {roomIdOrAlias} of /join and /knock and the servers to
// go through: via (and its older name server_name), and for an alias of
// another server those its directory names.
func (a *API) roomTarget(r *http.Request) (roomID string, via []string, err error) {
	target := roomPathParam(r, "roomIdOrAlias")
	q := r.URL.Query()
	via = append(q["via"], q["server_name"]...)
	via = via[:min(len(via), maxViaServers)]
	if !strings.HasPrefix(target, "#") {
		return target, via, nil
	}
	alias, err := mxcore.ParseRoomAlias(target)
	if err != nil {
		return "", nil, mxcore.InvalidParam("Invalid room alias: " + target)
	}
	if alias.Server == a.ServerName {
		roomID, err := a.resolveAlias(r.Context(), target)
		return roomID, via, err
	}
	roomID, servers, err := a.remoteAlias(r.Context(), target)
	return roomID, append(via, servers...), err
}

// inviteRemotes sends the invites of /createRoom's invitees on other
// servers, which the roomserver leaves to the caller. The room exists
// whatever happens to them, so a failed invite is logged, not returned.
func (a *API) inviteRemotes(ctx context.Context, roomID, sender string, invitees []string, isDirect bool) {
	if a.RemoteRooms == nil {
		return
	}
	for _, invitee := range invitees {
		content := map[string]any{"membership": "invite"}
		if isDirect {
			content["is_direct"] = true
		}
		raw, _ := json.Marshal(content)
		if err := a.RemoteRooms.Invite(ctx, sender, roomID, invitee, raw); err != nil {
			slog.WarnContext(ctx, "createRoom: remote invite failed", "room_id", roomID, "invitee", invitee, "err", err)
		}
	}
}

// withoutRepeats keeps the first of each server, in order.
func withoutRepeats(servers []string) []string {
	out := servers[:0]
	for _, s := range servers {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
