package federation

import (
	"context"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// A remote user's cached device list is kept only while they share a
// room with this server: their server stops sending updates once they do
// not, so a list kept past that would go out of date unnoticed. Leaves
// (and bans) are where sharing can end; each is checked after its commit.

// maxUntrackMembers bounds the remote members checked after one local leave.
const maxUntrackMembers = 1000

var _ roomserver.Listener = (*E2EE)(nil)

// OnNewEvents implements roomserver.Listener: live leaves and bans are
// handed to a goroutine that forgets the lists of remote users who no
// longer share a room with this server.
func (e *E2EE) OnNewEvents(roomID string, events []roomserver.PersistedEvent) {
	var leavers []string
	for _, ev := range events {
		if ev.Existed || ev.Rejected != "" || ev.SoftFailed || ev.Kind != roomserver.KindLive || ev.Event == nil ||
			ev.Event.Type() != "m.room.member" || ev.Event.StateKey() == nil {
			continue
		}
		switch gjson.GetBytes(ev.Event.Content(), "membership").Str {
		case storage.MembershipLeave, storage.MembershipBan:
			leavers = append(leavers, *ev.Event.StateKey())
		}
	}
	if len(leavers) == 0 {
		return
	}
	e.untrackMu.Lock()
	e.untrackQueue = append(e.untrackQueue, untrackJob{roomID: roomID, users: leavers})
	start := !e.untracking
	e.untracking = true
	e.untrackMu.Unlock()
	if start {
		go e.drainUntrack()
	}
}

type untrackJob struct {
	roomID string
	users  []string
}

// untrackState is E2EE's queue of leaves to check.
type untrackState struct {
	untrackMu    sync.Mutex
	untrackQueue []untrackJob
	untracking   bool
}

func (e *E2EE) drainUntrack() {
	ctx := context.Background()
	for {
		e.untrackMu.Lock()
		jobs := e.untrackQueue
		e.untrackQueue = nil
		if len(jobs) == 0 {
			e.untracking = false
			e.untrackMu.Unlock()
			return
		}
		e.untrackMu.Unlock()
		for _, j := range jobs {
			e.untrackAfterLeave(ctx, j)
		}
	}
}

// untrackAfterLeave checks the remote users a leave may have parted from
// this server: the leaver, if remote, or, if a local user left, the
// room's remaining remote members.
func (e *E2EE) untrackAfterLeave(ctx context.Context, j untrackJob) {
	var candidates []string
	for _, u := range j.users {
		if senderServer(u) != e.cfg.ServerName {
			candidates = append(candidates, u)
			continue
		}
		members, err := e.cfg.Store.RoomMembers(ctx, j.roomID, storage.MembershipJoin)
		if err != nil {
			e.log.Warn("federation: reading members after a leave", "room", j.roomID, "err", err)
			continue
		}
		for _, m := range members[:min(len(members), maxUntrackMembers)] {
			if senderServer(m) != e.cfg.ServerName {
				candidates = append(candidates, m)
			}
		}
	}
	for _, u := range candidates {
		shared, err := e.sharesRoomWithUs(ctx, u)
		if err == nil && !shared {
			err = e.cfg.Store.UntrackRemoteUser(ctx, u)
		}
		if err != nil {
			e.log.Warn("federation: forgetting a device list", "user_id", u, "err", err)
		}
	}
}
