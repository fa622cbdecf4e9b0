package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Presence (client-server API, "Presence"): each user's state lives in
// memory, its last change is stored. A change takes the next presence
// position; a syncing user sees the changes of the users they share a
// room with, and their own. /sync sets its user online (set_presence),
// and a user who stops syncing goes offline after offlineAfter.

const (
	presenceOnline      = "online"
	presenceOffline     = "offline"
	presenceUnavailable = "unavailable"
	maxStatusMsgBytes   = 1024
	// presenceLogSize bounds the recent changes kept for incremental
	// syncs; a token older than the log reads every visible user again.
	presenceLogSize = 10000
	// maxPresenceRead bounds the users one sync reports.
	maxPresenceRead = 2000
	// activeWindow is how long after its last request a user counts as
	// currently active.
	activeWindow = 5 * time.Minute
	// offlineAfter: a user set online by /sync who has not synced for
	// this long (their clients are closed) goes offline. It is well
	// beyond any long-poll's timeout.
	offlineAfter = 10 * time.Minute
)

func validPresence(p string) bool {
	return p == presenceOnline || p == presenceOffline || p == presenceUnavailable
}

type presenceStream struct {
	ud      *userData
	enabled bool
	mu      sync.Mutex
	pos     int64
	users   map[string]*presenceEntry // users whose state is known in memory
	// log holds the latest changes, oldest first: (user, position).
	log []presenceChange
	// idle holds, per user online through /sync, the timer that takes
	// them offline, and when they last synced.
	idle         map[string]*idleTimer
	offlineAfter time.Duration
}

type idleTimer struct {
	timer    *time.Timer
	lastSync time.Time
}

type presenceEntry struct {
	state storage.Presence
	pos   int64 // presence position of its last change; 0 if loaded
}

type presenceChange struct {
	userID string
	pos    int64
}

func newPresenceStream(ud *userData, enabled bool) *presenceStream {
	return &presenceStream{ud: ud, enabled: enabled, users: map[string]*presenceEntry{},
		idle: map[string]*idleTimer{}, offlineAfter: offlineAfter}
}

// lookup returns the user's state, from memory or the database; ok is
// false if none was ever set. A user without one is remembered as such
// (an empty Presence), so initial syncs do not ask the database again.
func (s *presenceStream) lookup(ctx context.Context, userID string) (storage.Presence, bool, error) {
	s.mu.Lock()
	e := s.users[userID]
	s.mu.Unlock()
	if e != nil {
		return e.state, e.state.Presence != "", nil
	}
	p, err := s.ud.api.Store.GetPresence(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		p, err = storage.Presence{UserID: userID}, nil
	}
	if err != nil {
		return storage.Presence{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.users[userID]; e != nil {
		return e.state, e.state.Presence != "", nil // changed while we read
	}
	s.users[userID] = &presenceEntry{state: p}
	return p, p.Presence != "", nil
}

// set stores a new state for a user. A change to presence or status
// message takes a position, is persisted and wakes the user's room-mates;
// a mere refresh of last-active only updates memory. Changes of one user
// are serialised, so memory and database agree on the last one.
func (s *presenceStream) set(ctx context.Context, p storage.Presence, local bool) error {
	defer s.ud.lockUser(p.UserID)()
	old, known, err := s.lookup(ctx, p.UserID)
	if err != nil {
		return err
	}
	if known && old.Presence == p.Presence && old.StatusMsg == p.StatusMsg {
		s.mu.Lock()
		s.users[p.UserID].state = p
		s.mu.Unlock()
		return nil
	}
	if err := s.ud.api.Store.SetPresence(ctx, p); err != nil {
		return err
	}
	s.mu.Lock()
	s.pos++
	pos := s.pos
	s.users[p.UserID] = &presenceEntry{state: p, pos: pos}
	s.log = append(s.log, presenceChange{userID: p.UserID, pos: pos})
	if len(s.log) > presenceLogSize {
		s.log = append(s.log[:0], s.log[len(s.log)-presenceLogSize/2:]...)
	}
	s.mu.Unlock()
	s.wake(ctx, p.UserID, pos)
	if local {
		s.ud.sendEDU(ctx, EphemeralEDU{Type: "m.presence", UserID: p.UserID, Content: presenceEDU(p, s.ud.api.now())})
	}
	return nil
}

// wake tells the user's own long-polls and those of everyone in the
// rooms they are joined to.
func (s *presenceStream) wake(ctx context.Context, userID string, pos int64) {
	s.ud.notify(streamPresence, pos, "", userID)
	rooms, err := s.ud.api.Store.RoomsForUser(ctx, userID, storage.MembershipJoin)
	if err != nil {
		slog.Warn("clientapi: presence: rooms of user", "err", err)
		return
	}
	for _, roomID := range rooms {
		s.ud.notify(streamPresence, pos, roomID, "")
	}
}

func (s *presenceStream) position(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos, nil
}

// changedSince lists the users whose state changed in (from, upTo], or
// ok=false when the log no longer reaches back to from.
func (s *presenceStream) changedSince(from, upTo int64) (users []string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) > 0 && s.log[0].pos > from+1 && from < s.pos {
		return nil, false
	}
	seen := map[string]bool{}
	for _, c := range s.log {
		if c.pos > from && c.pos <= upTo && !seen[c.userID] {
			seen[c.userID] = true
			users = append(users, c.userID)
		}
	}
	return users, true
}

// add reports the presence of the user and of those sharing a room with
// them: all of them from position 0, else those that changed.
func (s *presenceStream) add(ctx context.Context, read *streamRead, resp *syncResponse) error {
	if !s.enabled || !read.Filter.presenceWanted() {
		return nil // off, or the filter refuses every user's presence
	}
	var users []string
	var err error
	changed, ok := s.changedSince(read.From, read.UpTo)
	if read.From == 0 || !ok {
		users, err = s.roomMates(ctx, read)
	} else {
		users, err = s.sharingARoom(ctx, read, changed)
	}
	if err != nil {
		return err
	}
	now := s.ud.api.now()
	for _, u := range users {
		if len(resp.Presence.Events) >= maxPresenceRead {
			break
		}
		if !read.Filter.presenceAllowed(u) {
			continue
		}
		p, known, err := s.lookup(ctx, u)
		if err != nil {
			return err
		}
		if known {
			resp.Presence.Events = append(resp.Presence.Events, map[string]any{
				"type": "m.presence", "sender": u, "content": presenceContent(p, now),
			})
		}
	}
	return nil
}

// roomMates is the user and every member of their joined rooms.
func (s *presenceStream) roomMates(ctx context.Context, read *streamRead) ([]string, error) {
	seen := map[string]bool{read.UserID: true}
	users := []string{read.UserID}
	for _, roomID := range read.Joined {
		members, err := s.ud.api.joinedUserIDs(ctx, roomID)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if !seen[m] {
				seen[m] = true
				users = append(users, m)
			}
		}
		if len(users) >= maxPresenceRead {
			break
		}
	}
	return users, nil
}

// sharingARoom keeps the changed users the syncing user may see: itself
// and those joined to one of its rooms.
func (s *presenceStream) sharingARoom(ctx context.Context, read *streamRead, changed []string) ([]string, error) {
	var out []string
	for _, u := range changed {
		if u == read.UserID {
			out = append(out, u)
			continue
		}
		rooms, err := s.ud.api.Store.RoomsForUser(ctx, u, storage.MembershipJoin)
		if err != nil {
			return nil, err
		}
		for _, r := range rooms {
			if read.isJoined(r) {
				out = append(out, u)
				break
			}
		}
	}
	return out, nil
}

// presenceContent is m.presence's content as clients see it.
func presenceContent(p storage.Presence, now time.Time) map[string]any {
	out := map[string]any{"presence": p.Presence}
	if p.LastActiveTS > 0 {
		ago := max(now.UnixMilli()-p.LastActiveTS, 0)
		out["last_active_ago"] = ago
		out["currently_active"] = p.Presence == presenceOnline && ago < activeWindow.Milliseconds()
	}
	if p.StatusMsg != "" {
		out["status_msg"] = p.StatusMsg
	}
	return out
}

// presenceEDU is the m.presence EDU content for one user's change.
func presenceEDU(p storage.Presence, now time.Time) json.RawMessage {
	push := presenceContent(p, now)
	push["user_id"] = p.UserID
	if _, ok := push["last_active_ago"]; !ok {
		push["last_active_ago"] = 0
	}
	content, _ := json.Marshal(map[string]any{"push": []any{push}})
	return content
}

// SetRemotePresence records a remote user's presence from an m.presence
// EDU. Federation calls it after checking the origin owns the user.
func (a *API) SetRemotePresence(ctx context.Context, p storage.Presence) error {
	if a.userData == nil || !a.userData.presence.enabled || !validPresence(p.Presence) {
		return nil
	}
	return a.userData.presence.set(ctx, p, false)
}

// touchFromSync applies /sync's set_presence: online (the default) and
// unavailable set that state, keeping the status message; offline leaves
// the state alone. Every sync refreshes last-active.
func (s *presenceStream) touchFromSync(r *http.Request) error {
	want := r.URL.Query().Get("set_presence")
	switch want {
	case "":
		want = presenceOnline
	case presenceOnline, presenceUnavailable, presenceOffline:
	default:
		return mxcore.InvalidParam("set_presence must be online, offline or unavailable")
	}
	if !s.enabled || want == presenceOffline {
		return nil
	}
	ctx := r.Context()
	userID := roomCaller(r).UserID
	old, _, err := s.lookup(ctx, userID)
	if err != nil {
		return err
	}
	p := old
	p.UserID, p.Presence, p.LastActiveTS = userID, want, s.ud.api.now().UnixMilli()
	if err := s.set(ctx, p, true); err != nil {
		return err
	}
	s.armIdle(userID)
	return nil
}

// armIdle (re)starts the timer that takes userID offline once they stop
// syncing.
func (s *presenceStream) armIdle(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.idle[userID]
	if it == nil {
		it = &idleTimer{}
		it.timer = time.AfterFunc(s.offlineAfter, func() { s.goOffline(userID) })
		s.idle[userID] = it
	} else {
		it.timer.Reset(s.offlineAfter)
	}
	it.lastSync = time.Now()
}

// goOffline sets a user who stopped syncing offline, keeping their status
// message, unless they synced again meanwhile.
func (s *presenceStream) goOffline(userID string) {
	s.mu.Lock()
	it := s.idle[userID]
	if it == nil || time.Since(it.lastSync) < s.offlineAfter {
		s.mu.Unlock()
		return
	}
	delete(s.idle, userID)
	s.mu.Unlock()
	ctx := context.Background()
	p, known, err := s.lookup(ctx, userID)
	if err == nil && known && p.Presence != presenceOffline {
		p.Presence = presenceOffline
		err = s.set(ctx, p, true)
	}
	if err != nil {
		slog.Warn("clientapi: presence: going offline", "err", err)
	}
}

// putPresence is PUT /presence/{userId}/status.
func (a *API) putPresence(r *http.Request) (any, error) {
	userID, err := ownUserParam(r, "set presence")
	if err != nil {
		return nil, err
	}
	var body struct {
		Presence  string  `json:"presence"`
		StatusMsg *string `json:"status_msg"`
	}
	if err := decodeSmallJSON(r, &body); err != nil {
		return nil, err
	}
	if body.Presence == "" {
		return nil, mxcore.MissingParam("Missing presence")
	}
	if !validPresence(body.Presence) {
		return nil, mxcore.InvalidParam("presence must be online, offline or unavailable")
	}
	p := storage.Presence{UserID: userID, Presence: body.Presence, LastActiveTS: a.now().UnixMilli()}
	if body.StatusMsg != nil {
		if len(*body.StatusMsg) > maxStatusMsgBytes {
			return nil, mxcore.InvalidParam("status_msg is too long")
		}
		p.StatusMsg = *body.StatusMsg
	}
	if !a.userData.presence.enabled {
		return struct{}{}, nil
	}
	return struct{}{}, a.userData.presence.set(r.Context(), p, true)
}

// getPresence is GET /presence/{userId}/status: for oneself and for users
// sharing a room with the caller.
func (a *API) getPresence(r *http.Request) (any, error) {
	ctx := r.Context()
	target := roomPathParam(r, "userId")
	if _, err := mxcore.ParseUserID(target); err != nil {
		return nil, mxcore.InvalidParam("Invalid user ID")
	}
	caller := roomCaller(r).UserID
	if target != caller {
		shared, err := a.shareARoom(ctx, caller, target)
		if err != nil {
			return nil, err
		}
		if !shared {
			return nil, mxcore.Forbidden("You are not allowed to see their presence")
		}
	}
	s := a.userData.presence
	p, known, err := s.lookup(ctx, target)
	if err != nil {
		return nil, err
	}
	if !known || !s.enabled {
		return map[string]any{"presence": presenceOffline}, nil
	}
	return presenceContent(p, a.now()), nil
}

// shareARoom reports whether a and b are both joined to some room.
func (a *API) shareARoom(ctx context.Context, userA, userB string) (bool, error) {
	roomsA, err := a.Store.RoomsForUser(ctx, userA, storage.MembershipJoin)
	if err != nil {
		return false, err
	}
	roomsB, err := a.Store.RoomsForUser(ctx, userB, storage.MembershipJoin)
	if err != nil {
		return false, err
	}
	inA := make(map[string]bool, len(roomsA))
	for _, r := range roomsA {
		inA[r] = true
	}
	for _, r := range roomsB {
		if inA[r] {
			return true, nil
		}
	}
	return false, nil
}
