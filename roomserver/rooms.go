package roomserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// roomState is the in-memory view of a room the pipeline and the builder
// work from: its version, current state and forward extremities. It is
// immutable; the pipeline replaces it after each commit, so readers never
// see a state that is not durable.
type roomState struct {
	id          string
	version     mxcore.RoomVersion
	current     *stateSet
	extremities []extremity // newest first: depth descending, then ID
}

// extremity is a forward extremity and its depth, which the builder needs
// to choose prev_events and the new event's depth.
type extremity struct {
	id    string
	depth int64
}

func sortExtremities(ex []extremity) {
	slices.SortFunc(ex, func(a, b extremity) int {
		if a.depth != b.depth {
			if a.depth > b.depth {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
}

func (r *roomState) extremityIDs() []string {
	ids := make([]string, len(r.extremities))
	for i, e := range r.extremities {
		ids[i] = e.id
	}
	return ids
}

// room returns the in-memory state of a room, loading it from storage on
// a cache miss. Only a holder of the room's write lock puts a loaded room
// in the cache, so a load never races a commit of the same room and the
// cache never goes back in time. When a writer holds the lock (perhaps
// this very goroutine, in a listener), the reader loads what is committed
// without caching it rather than wait.
func (rs *RoomServer) room(ctx context.Context, roomID string) (*roomState, error) {
	if r, ok := rs.rooms.Get(roomID); ok {
		return r, nil
	}
	release, ok := rs.locks.tryAcquire(roomID)
	if !ok {
		return rs.loadRoom(ctx, roomID)
	}
	defer release()
	return rs.roomLocked(ctx, roomID)
}

// roomLocked is room for a caller holding the room's lock.
func (rs *RoomServer) roomLocked(ctx context.Context, roomID string) (*roomState, error) {
	if r, ok := rs.rooms.Get(roomID); ok {
		return r, nil
	}
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	rs.rooms.Put(roomID, r)
	return r, nil
}

// loadRoom rebuilds a room's in-memory state from storage.
func (rs *RoomServer) loadRoom(ctx context.Context, roomID string) (*roomState, error) {
	info, err := rs.store.Room(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownRoom, roomID)
	}
	if err != nil {
		return nil, fmt.Errorf("roomserver: room %s: %w", roomID, err)
	}
	ver, ok := mxcore.GetRoomVersion(info.Version)
	if !ok {
		return nil, fmt.Errorf("roomserver: room %s has unsupported version %q", roomID, info.Version)
	}
	rs.versions.Put(roomID, ver)
	current, err := rs.snapshot(ctx, info.CurrentSnapshot)
	if err != nil {
		return nil, err
	}
	ex, err := rs.loadExtremities(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return &roomState{id: roomID, version: ver, current: current, extremities: ex}, nil
}

// loadExtremities reads the room's forward extremities and their depths.
func (rs *RoomServer) loadExtremities(ctx context.Context, roomID string) ([]extremity, error) {
	ids, err := rs.store.ForwardExtremities(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("roomserver: forward extremities of %s: %w", roomID, err)
	}
	metas, err := rs.loadEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	ex := make([]extremity, 0, len(ids))
	for _, id := range ids {
		if m := metas[id]; m != nil {
			ex = append(ex, extremity{id: id, depth: m.pdu.Depth()})
		}
	}
	sortExtremities(ex)
	return ex, nil
}

// roomLocks serialises writers per room without a global lock: each
// active room has a one-slot semaphore, dropped when no goroutine holds
// or waits for it, so idle rooms cost nothing.
type roomLocks struct {
	mu    sync.Mutex
	rooms map[string]*roomLock
}

type roomLock struct {
	slot  chan struct{}
	users int // holders and waiters
}

// acquire waits for the room's lock, or for ctx to end.
func (l *roomLocks) acquire(ctx context.Context, roomID string) (release func(), err error) {
	l.mu.Lock()
	if l.rooms == nil {
		l.rooms = map[string]*roomLock{}
	}
	rl := l.rooms[roomID]
	if rl == nil {
		rl = &roomLock{slot: make(chan struct{}, 1)}
		l.rooms[roomID] = rl
	}
	rl.users++
	l.mu.Unlock()
	select {
	case rl.slot <- struct{}{}:
	case <-ctx.Done():
		l.leave(roomID, rl)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-rl.slot
			l.leave(roomID, rl)
		})
	}, nil
}

// tryAcquire takes the room's lock if nobody holds it.
func (l *roomLocks) tryAcquire(roomID string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rooms[roomID] != nil {
		return nil, false
	}
	if l.rooms == nil {
		l.rooms = map[string]*roomLock{}
	}
	rl := &roomLock{slot: make(chan struct{}, 1), users: 1}
	rl.slot <- struct{}{}
	l.rooms[roomID] = rl
	var once sync.Once
	return func() {
		once.Do(func() {
			<-rl.slot
			l.leave(roomID, rl)
		})
	}, true
}

func (l *roomLocks) leave(roomID string, rl *roomLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rl.users--
	if rl.users == 0 {
		delete(l.rooms, roomID)
	}
}

// active counts rooms whose lock is held or awaited.
func (l *roomLocks) active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.rooms)
}
