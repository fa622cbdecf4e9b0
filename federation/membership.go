package federation

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Membership is the federation side of joins, leaves, invites and knocks:
// as the resident server it answers make_join/send_join, make_leave/
// send_leave, make_knock/send_knock, invite and the directory query; as
// the server of a user joining, leaving, knocking or inviting elsewhere
// it makes those requests (membership_remote.go). Every event it takes or
// makes enters rooms through the roomserver's pipeline, and every path
// on which room data leaves asks the policy first.
type Membership struct {
	ServerName string
	KeyID      string
	PrivateKey ed25519.PrivateKey
	Rooms      *roomserver.RoomServer
	// Keys verifies the signatures of events other servers send.
	Keys SignatureVerifier
	// Client makes the requests of the joining side (a *Client); nil
	// leaves that side out.
	Client MembershipRequester
	Policy policy.Decider
	Store  MembershipStore
	Now    func() time.Time
	// InviteStored, when set, hears of each invite kept for a local user
	// of a room not joined here, and of its rejection, with its stream
	// position, so the user's waiting /sync wakes.
	InviteStored func(roomID, userID string, stream int64)
	// Forward, when set, hears of each membership event accepted here as
	// the resident server (send_join, send_leave, send_knock), so the
	// room's other servers are sent it.
	Forward func(ctx context.Context, roomID, eventID, origin string)
}

// MembershipRequester sends signed requests to other servers; *Client is
// one.
type MembershipRequester interface {
	Do(ctx context.Context, destination, method, path string, body any) (*Response, error)
}

var _ MembershipRequester = (*Client)(nil)

// MembershipStore is the storage the membership endpoints use: local
// aliases for the directory query and invites of local users into rooms
// this server is not in.
type MembershipStore interface {
	AliasRoom(ctx context.Context, alias string) (roomID, creator string, err error)
	storage.RemoteInviteStore
}

func (m *Membership) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// mount registers the resident-side endpoints; a nil Membership adds none.
func (m *Membership) mount(r chi.Router) {
	if m == nil {
		return
	}
	r.Get("/v1/make_join/{roomId}/{userId}", mxhttp.JSON(m.makeJoin))
	r.Put("/v2/send_join/{roomId}/{eventId}", mxhttp.JSON(m.sendJoin))
	r.Put("/v1/send_join/{roomId}/{eventId}", mxhttp.JSON(m.sendJoinV1))
	r.Put("/v1/send_leave/{roomId}/{eventId}", mxhttp.JSON(m.sendLeaveV1))
	r.Put("/v1/invite/{roomId}/{eventId}", mxhttp.JSON(m.receiveInviteV1))
	r.Get("/v1/make_leave/{roomId}/{userId}", mxhttp.JSON(m.makeLeave))
	r.Put("/v2/send_leave/{roomId}/{eventId}", mxhttp.JSON(m.sendLeave))
	r.Get("/v1/make_knock/{roomId}/{userId}", mxhttp.JSON(m.makeKnock))
	r.Put("/v1/send_knock/{roomId}/{eventId}", mxhttp.JSON(m.sendKnock))
	r.Put("/v2/invite/{roomId}/{eventId}", mxhttp.JSON(m.receiveInvite))
	r.Get("/v1/query/directory", mxhttp.JSON(m.queryDirectory))
}

// allowed asks the policy whether server may take part in roomID as in.
func (m *Membership) allowed(ctx context.Context, in policy.Input) error {
	d := m.Policy
	if d == nil {
		return mxcore.Forbidden("No policy is configured for federation")
	}
	if ok, reasons := policy.Allowed(ctx, d, in); !ok {
		msg := "Refused by this server's policy"
		if len(reasons) > 0 {
			msg += ": " + reasons[0]
		}
		return mxcore.Forbidden(msg)
	}
	return nil
}

// memberPathParam reads a path parameter, unescaped.
func memberPathParam(r *http.Request, name string) string { return mxhttp.PathParam(r, name) }

// participates reports whether a local user is joined to the room, so
// this server follows its events and can build on its current state.
func (m *Membership) participates(ctx context.Context, roomID string) bool {
	servers, err := m.Rooms.JoinedServers(ctx, roomID)
	return err == nil && slices.Contains(servers, m.ServerName)
}
