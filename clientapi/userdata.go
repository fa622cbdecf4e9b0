package clientapi

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"sync"
)

// The per-user and ephemeral /sync streams: account data (and tags, which
// are room account data), receipts, typing and presence. Account data and
// receipts live in the database with stream positions; typing lives only
// in memory; presence lives in memory with its last state stored.

// EphemeralEDU is an ephemeral change a local user made that other
// servers in the room must hear of: m.typing, m.receipt or m.presence,
// with Content in the server-server API's shape for that EDU type.
type EphemeralEDU struct {
	Type   string
	RoomID string // the room it concerns; "" for m.presence
	UserID string // the local user it is about
	// Content is the EDU's content as the server-server API defines it.
	Content json.RawMessage
}

// userData holds the streams' in-memory state for one API.
type userData struct {
	api         *API
	accountData *accountDataStream
	receipts    *receiptStream
	typing      *typingStream
	presence    *presenceStream
	// userLocks serialise read-modify-write changes of one user's data
	// (tags): a fixed set of stripes keeps memory bounded.
	userLocks [64]sync.Mutex
	seed      maphash.Seed
}

func newUserData(a *API, presenceEnabled bool) *userData {
	ud := &userData{api: a, seed: maphash.MakeSeed()}
	ud.accountData = &accountDataStream{ud: ud}
	ud.receipts = &receiptStream{ud: ud}
	ud.typing = newTypingStream(ud)
	ud.presence = newPresenceStream(ud, presenceEnabled)
	return ud
}

// lockUser takes the stripe of userID's lock; call the returned func to
// release it.
func (ud *userData) lockUser(userID string) func() {
	m := &ud.userLocks[maphash.String(ud.seed, userID)%uint64(len(ud.userLocks))]
	m.Lock()
	return m.Unlock
}

// notify wakes the long-polls a stream's change concerns. It is a no-op
// before /sync is mounted.
func (ud *userData) notify(id streamID, pos int64, roomID, userID string) {
	if s := ud.api.syncs; s != nil {
		s.notify(id, pos, roomID, userID)
	}
}

// sendEDU hands an EDU to federation, if it is wired (API.OnEphemeral).
func (ud *userData) sendEDU(ctx context.Context, edu EphemeralEDU) {
	if f := ud.api.OnEphemeral; f != nil {
		f(ctx, edu)
	}
}

// storedPosition is a stream position kept in memory and read from the
// database once: what a DB-backed stream's position() answers.
type storedPosition struct {
	mu     sync.Mutex
	loaded bool
	pos    int64
}

// get returns the position, reading it with load the first time.
func (p *storedPosition) get(ctx context.Context, load func(context.Context) (int64, error)) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.loaded {
		stored, err := load(ctx)
		if err != nil {
			return 0, err
		}
		p.pos, p.loaded = max(p.pos, stored), true
	}
	return p.pos, nil
}

// advance records that pos is durable.
func (p *storedPosition) advance(pos int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos = max(p.pos, pos)
}

// newlyJoined reports whether resp's entry for a joined room carries the
// user's own join (their member event in its state or timeline): the
// client may know nothing of the room yet, so a stream sends the room's
// current state rather than its changes. A profile change also carries a
// join; it only makes a stream resend what the client already has.
func newlyJoined(resp *syncResponse, read *streamRead, roomID string) bool {
	if read.From == 0 {
		return false // everything is sent from 0 anyway
	}
	jr := resp.Rooms.Join[roomID]
	if jr == nil {
		return false
	}
	own := func(evs []ClientEvent) bool {
		for _, ev := range evs {
			if ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == read.UserID &&
				membershipOf(ev.Content) == "join" {
				return true
			}
		}
		return false
	}
	return own(jr.State.Events) || own(jr.Timeline.Events)
}
