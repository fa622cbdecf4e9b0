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

// maxJoinCheckServers bounds the servers checked for being new to a
// local user after their join.
const maxJoinCheckServers = 200

var _ roomserver.Listener = (*E2EE)(nil)

// OnNewEvents implements roomserver.Listener: live leaves and bans are
// handed to a goroutine that forgets the lists of remote users who no
// longer share a room with this server, and local users' joins to one
// that announces their device lists to servers new to them.
func (e *E2EE) OnNewEvents(roomID string, events []roomserver.PersistedEvent) {
	var leavers, joiners []string
	for _, ev := range events {
		if ev.Existed || ev.Rejected != "" || ev.SoftFailed || ev.Kind != roomserver.KindLive || ev.Event == nil ||
			ev.Event.Type() != "m.room.member" || ev.Event.StateKey() == nil {
			continue
		}
		user := *ev.Event.StateKey()
		switch gjson.GetBytes(ev.Event.Content(), "membership").Str {
		case storage.MembershipLeave, storage.MembershipBan:
			leavers = append(leavers, user)
		case storage.MembershipJoin:
			if senderServer(user) == e.cfg.ServerName {
				joiners = append(joiners, user)
			}
		}
	}
	if len(leavers) == 0 && len(joiners) == 0 {
		return
	}
	e.untrackMu.Lock()
	e.untrackQueue = append(e.untrackQueue, untrackJob{roomID: roomID, users: leavers, joiners: joiners})
	start := !e.untracking
	e.untracking = true
	e.untrackMu.Unlock()
	if start {
		go e.drainUntrack()
	}
}

type untrackJob struct {
	roomID  string
	users   []string // who left or was banned
	joiners []string // local users who joined
}

// untrackState is E2EE's queue of leaves and joins to check.
type untrackState struct {
	untrackMu    sync.Mutex
	untrackQueue []untrackJob
	untracking   bool
	// announcedJoins are the (user, room) joins already announced: a
	// profile change is a join event too, and must not announce again.
	// Only the one draining goroutine touches it.
	announcedJoins map[[2]string]bool
}

// maxAnnouncedJoins bounds announcedJoins; past it the set starts afresh
// (at worst a list is announced once more).
const maxAnnouncedJoins = 10000

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
			for _, u := range j.joiners {
				if err := e.announceAfterJoin(ctx, j.roomID, u); err != nil {
					e.log.Warn("federation: announcing a device list after a join", "user_id", u, "room", j.roomID, "err", err)
				}
			}
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
		delete(e.announcedJoins, [2]string{u, j.roomID}) // a rejoin is a join again
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

// announceAfterJoin: when a local user joins a room with servers that
// shared no room with them before, and so were not hearing of their
// device list, the list is announced ("Device Management": an
// m.device_list_update is due when a user joins a room holding servers
// not already receiving their updates). One update, re-announcing one
// device as it is, is enough: a server not tracking the user fetches the
// whole list, and one that is applies it. It goes to every server
// sharing a room, so the prev_id chain of the others stays unbroken.
func (e *E2EE) announceAfterJoin(ctx context.Context, roomID, userID string) error {
	key := [2]string{userID, roomID}
	if e.announcedJoins[key] {
		return nil
	}
	if e.announcedJoins == nil || len(e.announcedJoins) >= maxAnnouncedJoins {
		e.announcedJoins = map[[2]string]bool{}
	}
	e.announcedJoins[key] = true
	servers, err := e.cfg.Store.JoinedServers(ctx, roomID)
	if err != nil {
		return err
	}
	// In a room of very many servers, announcing is cheaper than asking
	// about each whether it is new.
	newcomer := len(servers) > maxJoinCheckServers
	for _, s := range servers[:min(len(servers), maxJoinCheckServers)] {
		if s == e.cfg.ServerName {
			continue
		}
		shared, err := e.cfg.Store.ServerSharesRoom(ctx, userID, s, roomID)
		if err != nil {
			return err
		}
		if !shared {
			newcomer = true
			break
		}
	}
	if !newcomer {
		return nil
	}
	devices, err := e.cfg.Local.LocalUserDevices(ctx, userID)
	if err != nil || len(devices.Devices) == 0 {
		return err // no keys: nothing to track yet
	}
	return e.DeviceChanged(ctx, userID, devices.Devices[0].DeviceID, 0, false)
}
