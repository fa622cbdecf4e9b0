package clientapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/spaces"
)

// roomSummary is the GET /room_summary answer.
type roomSummary struct {
	spaces.Summary
	// Membership is the caller's membership; absent without a caller.
	Membership string `json:"membership,omitempty"`
}

// getRoomSummary implements GET /_matrix/client/v1/room_summary/{roomIdOrAlias}.
// A room this server is in is summarised from its state; another is asked
// of the servers named (via, the alias's server, the room ID's server)
// through their federation /hierarchy. Without an access token only rooms
// anyone may see are summarised; a room the caller may not see is
// reported missing, as one that does not exist, so the answer does not
// reveal which private rooms exist.
func (a *API) getRoomSummary(r *http.Request) (any, error) {
	roomID, via, err := a.roomTarget(r)
	if err != nil {
		return nil, err
	}
	if _, err := mxcore.ParseRoomID(roomID); err != nil {
		return nil, mxcore.InvalidParam("Invalid room ID or alias: " + roomID)
	}
	ctx := r.Context()
	sess, signedIn := SessionFrom(ctx)
	limitKey := ""
	if !signedIn {
		limitKey = addressKey(r)
	}
	summary, found, err := a.summaryOf(ctx, roomID, via, limitKey)
	if err != nil {
		return nil, err
	}
	notFound := mxcore.NotFound("Room not found")
	if !found {
		return nil, notFound
	}
	if !signedIn {
		if !spaces.OpenToAll(summary) {
			return nil, notFound
		}
		return roomSummary{Summary: summary}, nil
	}
	membershipOf := a.membershipReader(sess.UserID)
	visible, err := spaces.UserMaySee(ctx, summary, membershipOf)
	if err != nil {
		return nil, err
	}
	membership, err := membershipOf(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if !visible && membership != "knock" {
		return nil, notFound
	}
	if membership == "" {
		membership = "leave"
	}
	return roomSummary{Summary: summary, Membership: membership}, nil
}

// newAnonymousLookups throttles, per client address, the requests of
// callers without an access token that make this server ask others, as
// the spec advises: each costs federation requests anyone could trigger.
func (a *API) newAnonymousLookups() *ratelimit.Limiter {
	return ratelimit.NewWithClock(anonymousLookupsPerSecond, anonymousLookupsBurst, ratelimit.DefaultMaxKeys, a.now)
}

const (
	anonymousLookupsPerSecond = 0.5
	anonymousLookupsBurst     = 10
)

// summaryOf summarises a room this server is in, or asks servers that may
// be in it. limitKey, for a caller without an access token, is whose
// budget of remote lookups a request to other servers spends.
func (a *API) summaryOf(ctx context.Context, roomID string, via []string, limitKey string) (spaces.Summary, bool, error) {
	if a.participates(ctx, roomID) {
		s, err := spaces.LocalSummary(ctx, a.Rooms, roomID)
		return s, err == nil, err
	}
	servers := a.remoteServers(roomID, via)
	if a.RemoteDirectory == nil || len(servers) == 0 {
		return spaces.Summary{}, false, nil
	}
	if limitKey != "" {
		if err := limited(a.anonymousLookups, limitKey); err != nil {
			return spaces.Summary{}, false, err
		}
	}
	h, err := a.RemoteDirectory.Hierarchy(ctx, roomID, servers, false)
	if err != nil {
		slog.DebugContext(ctx, "room_summary: no server described the room", "room_id", roomID, "err", err)
		return spaces.Summary{}, false, nil
	}
	return h.Room.Summary, true, nil
}
