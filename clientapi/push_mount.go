package clientapi

import (
	"context"
	"log/slog"
	"sync"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/storage"
)

// pushState is the push module's in-memory part of an API.
type pushState struct {
	pushRules *pushRuleCache
	unread    *unreadTracker
	pending   *pendingPush   // batches whose evaluation has not ended (push_pending.go)
	deliver   *pushDeliverer // nil without a PushSender
	stopPush  context.CancelFunc
	pushDone  chan struct{}
}

// startPush creates the push rule cache and unread tracker and registers
// the marker of pending evaluations. It must run before the sync server
// registers its notifier, and listenPush after (push_pending.go).
func (a *API) startPush() {
	if a.Rooms == nil {
		slog.Debug("clientapi: push rules are off: no roomserver")
		return
	}
	if a.pushRuleStore == nil {
		a.pushRuleStore = accountDataPushRules{a}
	}
	a.pushRules = newPushRuleCache(a.pushRuleStore)
	a.unread = newUnreadTracker(a.Store, a.unreadRooms)
	ctx, cancel := context.WithCancel(context.Background())
	a.stopPush, a.pushDone = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.unread.run(ctx)
	}()
	if a.Pushes != nil {
		a.deliver = newPushDeliverer(a, a.Pushes)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.deliver.run(ctx)
		}()
	}
	go func() {
		wg.Wait()
		close(a.pushDone)
	}()
	a.pending = newPendingPush()
	a.Rooms.AddListener(pushMarker{a.pending})
}

// listenPush registers the push listener, after the notifier.
func (a *API) listenPush() {
	if a.unread == nil {
		return
	}
	a.Rooms.AddListener(&pushListener{api: a, rules: a.pushRules, unread: a.unread, pending: a.pending, deliver: a.deliver})
}

// unreadRooms are the rooms whose unread notifications count for a
// user: those they are joined to (the counts /sync shows) and invited to
// (an invite notifies, and counts in a push badge).
func (a *API) unreadRooms(ctx context.Context, userID string) ([]string, error) {
	return a.pushRooms(ctx, userID, storage.MembershipJoin, storage.MembershipInvite)
}

// pushRooms are the user's rooms of the given memberships, in that
// order, at most storage.MaxPushRooms of them.
func (a *API) pushRooms(ctx context.Context, userID string, memberships ...string) ([]string, error) {
	byMembership, err := a.Store.RoomsByMembership(ctx, userID)
	if err != nil {
		return nil, err
	}
	var rooms []string
	for _, m := range memberships {
		rooms = append(rooms, byMembership[m]...)
	}
	if len(rooms) > storage.MaxPushRooms {
		rooms = rooms[:storage.MaxPushRooms]
	}
	return rooms, nil
}

// mountPush registers /pushrules, /pushers and /notifications.
func (a *API) mountPush(r chi.Router) {
	if a.pushRules == nil {
		return
	}
	a.mountPushRules(r)
	a.mountPushers(r)
	a.mountNotifications(r)
}

// Close writes what the API keeps in memory for the database (push
// notifications and read marks) and stops its background work. Call it
// after the HTTP servers have shut down, before the database closes.
func (a *API) Close() {
	if a.stopPush != nil {
		a.stopPush()
		<-a.pushDone
	}
}

// markNotificationsRead clears the user's unread notifications in roomID
// up to stream position upTo: in one thread for a threaded receipt
// ("main" or a thread root), in all for an unthreaded one ("").
func (a *API) markNotificationsRead(userID, roomID, threadID string, upTo int64) {
	if a.unread != nil {
		a.unread.markRead(userID, roomID, threadID, upTo)
	}
	if a.deliver != nil {
		a.deliver.offer(pushJob{badgeOf: userID})
	}
}

// PushJobsDropped counts events whose gateway notifications were dropped
// because the delivery queue was full.
func (a *API) PushJobsDropped() int64 {
	if a.deliver == nil {
		return 0
	}
	return a.deliver.dropped.Load()
}
