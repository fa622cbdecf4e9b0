package clientapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/warbler-im/warbler/internal/cpus"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// syncStore is what /sync reads from storage besides the roomserver.
// clientapi.Store does not include the room store (yet), so mountSync
// finds it on the same value.
type syncStore interface {
	RoomsByMembership(ctx context.Context, userID string) (map[string][]string, error)
	MaxStreamPosition(ctx context.Context) (int64, error)
	RoomEventsSince(ctx context.Context, since, upTo int64, roomIDs []string, limit int) ([]storage.RoomTimeline, error)
	Events(ctx context.Context, eventIDs []string) ([]storage.StoredEvent, error)
	Membership(ctx context.Context, roomID, userID string) (membership, eventID string, err error)
	filterStore
}

// maxSyncTimeout bounds how long one long-poll holds a connection.
const maxSyncTimeout = 5 * time.Minute

// syncServer answers /sync for one API.
type syncServer struct {
	api      *API
	store    syncStore
	rooms    *roomserver.RoomServer
	notifier *notifier
	filters  *filters
	// summaries caches the rooms' member summaries (sync_summary_cache.go).
	summaries *summaryCache
	// streams serve the streams besides room events; nil ones are not
	// served yet.
	streams [numStreams]syncStream
	// hooked holds the *http.Servers whose shutdown closes the notifier.
	hooked sync.Map
	// fullSyncs bounds the initial and full-state syncs built at once
	// (see sync).
	fullSyncs chan struct{}
}

func newSyncServer(a *API, store syncStore, f *filters) *syncServer {
	s := &syncServer{api: a, store: store, rooms: a.Rooms, notifier: newNotifier(), filters: f, summaries: a.roomMembers,
		fullSyncs: make(chan struct{}, max(1, cpus.N))}
	a.Rooms.AddListener(s.notifier)
	addE2EEStreams(a, s)
	a.userData = newUserData(a, !a.PresenceDisabled)
	s.addStream(streamTyping, a.userData.typing)
	s.addStream(streamReceipts, a.userData.receipts)
	s.addStream(streamAccountData, a.userData.accountData)
	s.addStream(streamPresence, a.userData.presence)
	return s
}

// syncRequest is /sync's query, parsed.
type syncRequest struct {
	userID    string
	deviceID  string
	since     syncToken
	hasSince  bool
	timeout   time.Duration
	fullState bool
	// useStateAfter: the client asked for state_after (the state at the
	// end of each timeline) instead of state (MSC4222, spec v1.16).
	useStateAfter bool
	filter        syncFilter
}

func (s *syncServer) parseSyncRequest(r *http.Request) (syncRequest, error) {
	sess, _ := SessionFrom(r.Context())
	req := syncRequest{userID: sess.UserID, deviceID: sess.DeviceID}
	q := r.URL.Query()
	if since := q.Get("since"); since != "" {
		tok, err := parseSyncToken(since)
		if err != nil {
			return req, mxcore.InvalidParam("since is not a sync token of this server")
		}
		req.since, req.hasSince = tok, true
	}
	var err error
	if req.timeout, err = timeoutParam(q); err != nil {
		return req, err
	}
	if req.fullState, err = boolParam(q, "full_state"); err != nil {
		return req, err
	}
	if req.useStateAfter, err = boolParam(q, "use_state_after"); err != nil {
		return req, err
	}
	f, err := s.filters.resolve(r.Context(), req.userID, q.Get("filter"))
	req.filter = f
	return req, err
}

// sync is GET /sync. An incremental sync with nothing new waits on the
// notifier (up to timeout) and reads again when woken.
func (s *syncServer) sync(r *http.Request) (any, error) {
	req, err := s.parseSyncRequest(r)
	if err != nil {
		return nil, err
	}
	if err := s.api.userData.presence.touchFromSync(r); err != nil {
		return nil, err
	}
	s.closeOnShutdown(r)
	ctx := r.Context()
	// Initial and full-state syncs read every room's state and build
	// large answers. They share the CPUs whatever their number, so more
	// of them at once than there are CPUs only holds more memory: eight
	// at once were warbler bench's peak RSS. The others wait their turn.
	if !req.hasSince || req.fullState {
		select {
		case s.fullSyncs <- struct{}{}:
			defer func() { <-s.fullSyncs }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	deadline := time.Now().Add(req.timeout)
	for {
		upTo, err := s.positions(ctx)
		if err != nil {
			return nil, err
		}
		resp, followed, err := s.build(ctx, req, upTo)
		if err != nil || !req.hasSince || req.fullState || !resp.empty() {
			return resp, err
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return resp, nil
		}
		woken, err := s.notifier.wait(ctx, req.userID, followed, upTo, remaining)
		if errors.Is(err, errTooManyWaiters) {
			return nil, limitExceeded(time.Second)
		}
		if err != nil || !woken {
			return resp, err
		}
	}
}

// closeOnShutdown wakes every long-poll when the HTTP server serving r
// shuts down: http.Server.Shutdown waits for open requests, and a
// 30-second long-poll must not hold up the process's exit. Hooking it
// here keeps the wiring inside the client API.
func (s *syncServer) closeOnShutdown(r *http.Request) {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return
	}
	if _, seen := s.hooked.LoadOrStore(srv, struct{}{}); !seen {
		srv.RegisterOnShutdown(s.notifier.Close)
	}
}

// boolParam reads an optional true/false query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, mxcore.InvalidParam(name + " must be true or false")
}

// timeoutParam reads a long-poll's timeout in milliseconds (0 if absent),
// capped at maxSyncTimeout.
func timeoutParam(q url.Values) (time.Duration, error) {
	t := q.Get("timeout")
	if t == "" {
		return 0, nil
	}
	ms, err := strconv.ParseInt(t, 10, 64)
	if err != nil || ms < 0 {
		return 0, mxcore.InvalidParam("timeout must be a non-negative number of milliseconds")
	}
	return min(time.Duration(ms)*time.Millisecond, maxSyncTimeout), nil
}
