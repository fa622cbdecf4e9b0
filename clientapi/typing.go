package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
)

// Typing notifications live only in memory: who types where, until when.
// Each change to a room's set of typers (a start, a stop, an expiry) takes
// the next typing position, and /sync sends the room's whole current set
// (m.typing replaces what the client knew).

const (
	defaultTypingTimeout = 30 * time.Second
	maxTypingTimeout     = 2 * time.Minute
	// quietRoomTTL is how long a room whose typers all stopped keeps its
	// entry, so incremental syncs still learn that they stopped.
	quietRoomTTL = 10 * time.Minute
)

type typingStream struct {
	ud    *userData
	mu    sync.Mutex
	pos   int64
	rooms map[string]*roomTyping
}

type roomTyping struct {
	changed   int64     // typing position of the last change
	changedAt time.Time // when, for pruning quiet rooms
	typers    map[string]*typer
}

type typer struct {
	expires time.Time
	timer   *time.Timer
}

func newTypingStream(ud *userData) *typingStream {
	return &typingStream{ud: ud, rooms: map[string]*roomTyping{}}
}

// SetTyping records that userID started (for timeout, bounded) or stopped
// typing in roomID and wakes the room's long-polls if the set of typers
// changed. Federation calls it for remote users' m.typing EDUs, after
// checking that the user is in the room.
func (a *API) SetTyping(roomID, userID string, typing bool, timeout time.Duration) {
	if a.userData == nil {
		return
	}
	a.userData.typing.set(roomID, userID, typing, timeout)
}

func (s *typingStream) set(roomID, userID string, typing bool, timeout time.Duration) {
	if timeout <= 0 {
		timeout = defaultTypingTimeout
	}
	timeout = min(timeout, maxTypingTimeout)
	s.mu.Lock()
	pos, changed := s.setLocked(roomID, userID, typing, timeout)
	s.mu.Unlock()
	if changed {
		s.ud.notify(streamTyping, pos, roomID, "")
	}
}

func (s *typingStream) setLocked(roomID, userID string, typing bool, timeout time.Duration) (int64, bool) {
	now := time.Now()
	s.pruneLocked(now)
	rt := s.rooms[roomID]
	if rt == nil {
		if !typing {
			return 0, false
		}
		rt = &roomTyping{typers: map[string]*typer{}}
		s.rooms[roomID] = rt
	}
	old := rt.typers[userID]
	if old != nil {
		old.timer.Stop()
		delete(rt.typers, userID)
	}
	if typing {
		t := &typer{expires: now.Add(timeout)}
		t.timer = time.AfterFunc(timeout, func() { s.expire(roomID, userID, t) })
		rt.typers[userID] = t
	}
	if (old != nil) == typing {
		return 0, false // already typing (extended), or was not typing
	}
	s.pos++
	rt.changed, rt.changedAt = s.pos, now
	return s.pos, true
}

// expire stops t's typing when its timeout passes, unless it was
// replaced meanwhile.
func (s *typingStream) expire(roomID, userID string, t *typer) {
	s.mu.Lock()
	rt := s.rooms[roomID]
	if rt == nil || rt.typers[userID] != t {
		s.mu.Unlock()
		return
	}
	delete(rt.typers, userID)
	s.pos++
	pos := s.pos
	rt.changed, rt.changedAt = pos, time.Now()
	s.mu.Unlock()
	s.ud.notify(streamTyping, pos, roomID, "")
}

// pruneLocked drops rooms nobody has typed in for quietRoomTTL, so the
// map holds only rooms with recent typing.
func (s *typingStream) pruneLocked(now time.Time) {
	for id, rt := range s.rooms {
		if len(rt.typers) == 0 && now.Sub(rt.changedAt) > quietRoomTTL {
			delete(s.rooms, id)
		}
	}
}

func (s *typingStream) position(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos, nil
}

// add sends m.typing for the joined rooms whose typers changed in
// (From, UpTo], or, from position 0 and in rooms just joined, for those
// where someone types.
func (s *typingStream) add(_ context.Context, read *streamRead, resp *syncResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, roomID := range read.Joined {
		rt := s.rooms[roomID]
		if rt == nil || !read.Filter.ephemeralAllowed(roomID, "m.typing") {
			continue
		}
		fromStart := read.From == 0 || newlyJoined(resp, read, roomID)
		if fromStart && len(rt.typers) == 0 {
			continue
		}
		if !fromStart && (rt.changed <= read.From || rt.changed > read.UpTo) {
			continue
		}
		users := make([]string, 0, len(rt.typers))
		for u := range rt.typers {
			users = append(users, u)
		}
		slices.Sort(users)
		jr := resp.joinedRoom(roomID)
		jr.Ephemeral.Events = append(jr.Ephemeral.Events, map[string]any{
			"type": "m.typing", "content": map[string]any{"user_ids": users},
		})
	}
	return nil
}

// putTyping is PUT /rooms/{roomId}/typing/{userId}.
func (a *API) putTyping(r *http.Request) (any, error) {
	userID, err := ownUserParam(r, "set typing")
	if err != nil {
		return nil, err
	}
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Typing  *bool  `json:"typing"`
		Timeout *int64 `json:"timeout"`
	}
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if body.Typing == nil {
		return nil, mxcore.MissingParam("Missing typing")
	}
	timeout := defaultTypingTimeout
	if body.Timeout != nil {
		if *body.Timeout < 0 {
			return nil, mxcore.InvalidParam("timeout must not be negative")
		}
		timeout = time.Duration(min(*body.Timeout, maxTypingTimeout.Milliseconds())) * time.Millisecond
	}
	if err := a.requireJoined(r.Context(), roomID, userID); err != nil {
		return nil, err
	}
	a.SetTyping(roomID, userID, *body.Typing, timeout)
	content, _ := json.Marshal(map[string]any{"room_id": roomID, "user_id": userID, "typing": *body.Typing})
	a.userData.sendEDU(r.Context(), EphemeralEDU{Type: "m.typing", RoomID: roomID, UserID: userID, Content: content})
	return struct{}{}, nil
}

// requireJoined refuses unless userID is joined to roomID (an unknown
// room is refused the same way, not to reveal which rooms exist).
func (a *API) requireJoined(ctx context.Context, roomID, userID string) error {
	m, _, err := a.Rooms.Membership(ctx, roomID, userID)
	if err != nil {
		return roomError(err)
	}
	if m != "join" {
		return mxcore.Forbidden("You are not in this room")
	}
	return nil
}
