package roomserver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/storage"
)

// memStore is an in-memory Store that follows the storage.RoomStore
// contract closely enough to catch the pipeline breaking it: state
// references must name stored, unrejected state events of the room,
// extremities must be stored live events, a batch is all or nothing.
type memStore struct {
	mu        sync.Mutex
	rooms     map[string]*memRoom
	events    map[string]storage.StoredEvent
	snapshots []map[StateKeyTuple]string // index = NID; 0 is the empty state
	stream    int64
	backfill  int64

	persistCalls int
	failNext     error    // the next PersistEvents fails with it
	outbound     []string // committed events marked Outbound, in order
}

type memRoom struct {
	version     string
	current     int64
	extremities []string
}

func newMemStore() *memStore {
	return &memStore{rooms: map[string]*memRoom{}, events: map[string]storage.StoredEvent{},
		snapshots: []map[StateKeyTuple]string{{}}}
}

func (s *memStore) CreateRoom(_ context.Context, roomID, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[roomID] != nil {
		return storage.ErrConflict
	}
	s.rooms[roomID] = &memRoom{version: version}
	return nil
}

func (s *memStore) Room(_ context.Context, roomID string) (storage.RoomInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[roomID]
	if r == nil {
		return storage.RoomInfo{}, storage.ErrNotFound
	}
	return storage.RoomInfo{RoomID: roomID, Version: r.version, CurrentSnapshot: r.current}, nil
}

// memTx is a PersistEvents call in progress; it is applied only whole.
type memTx struct {
	s         *memStore
	roomID    string
	events    map[string]storage.StoredEvent
	snapshots []map[StateKeyTuple]string
	stream    int64
	backfill  int64
}

func (tx *memTx) event(id string) (storage.StoredEvent, bool) {
	if ev, ok := tx.events[id]; ok {
		return ev, true
	}
	ev, ok := tx.s.events[id]
	return ev, ok
}

func (tx *memTx) snapshot(nid int64) (map[StateKeyTuple]string, error) {
	n := int64(len(tx.s.snapshots))
	switch {
	case nid < 0 || nid >= n+int64(len(tx.snapshots)):
		return nil, fmt.Errorf("memstore: snapshot %d: %w", nid, storage.ErrNotFound)
	case nid < n:
		return tx.s.snapshots[nid], nil
	}
	return tx.snapshots[nid-n], nil
}

// saveState checks and stores a StateRef, returning its NID.
func (tx *memTx) saveState(ref storage.StateRef) (int64, error) {
	base, err := tx.snapshot(ref.Base)
	if err != nil {
		return 0, err
	}
	if len(ref.Changes) == 0 {
		return ref.Base, nil
	}
	m := maps.Clone(base)
	for _, c := range ref.Changes {
		k := StateKeyTuple{c.Type, c.StateKey}
		if c.EventID == "" {
			delete(m, k)
			continue
		}
		ev, ok := tx.event(c.EventID)
		switch {
		case !ok:
			return 0, fmt.Errorf("memstore: state names unknown event %s", c.EventID)
		case ev.RoomID != tx.roomID:
			return 0, fmt.Errorf("memstore: state names %s of another room", c.EventID)
		case ev.Rejected != "":
			return 0, fmt.Errorf("memstore: state names rejected event %s", c.EventID)
		case ev.StateKey == nil || ev.Type != c.Type || *ev.StateKey != c.StateKey:
			return 0, fmt.Errorf("memstore: state entry (%s, %q) names %s, which is not that state event", c.Type, c.StateKey, c.EventID)
		}
		m[k] = c.EventID
	}
	tx.snapshots = append(tx.snapshots, m)
	return int64(len(tx.s.snapshots) + len(tx.snapshots) - 1), nil
}

func (s *memStore) PersistEvents(_ context.Context, roomID string, batch []storage.NewEvent, update storage.RoomUpdate) ([]storage.PersistedPosition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.persistCalls++
	if err := s.failNext; err != nil {
		s.failNext = nil
		return nil, err
	}
	r := s.rooms[roomID]
	if r == nil {
		return nil, storage.ErrNotFound
	}
	tx := &memTx{s: s, roomID: roomID, events: map[string]storage.StoredEvent{}, stream: s.stream, backfill: s.backfill}
	positions := make([]storage.PersistedPosition, len(batch))
	for i, ne := range batch {
		pos, err := tx.store(ne)
		if err != nil {
			return nil, err
		}
		positions[i] = pos
	}
	current := r.current
	if update.SetCurrentState != nil {
		nid, err := tx.saveState(*update.SetCurrentState)
		if err != nil {
			return nil, err
		}
		current = nid
	}
	if err := tx.checkExtremities(update.ForwardExtremities); err != nil {
		return nil, err
	}
	// Commit.
	for _, ne := range batch {
		if ne.Outbound {
			s.outbound = append(s.outbound, ne.EventID)
		}
	}
	maps.Copy(s.events, tx.events)
	s.snapshots = append(s.snapshots, tx.snapshots...)
	s.stream, s.backfill, r.current = tx.stream, tx.backfill, current
	if update.ForwardExtremities != nil {
		r.extremities = slices.Clone(update.ForwardExtremities)
		sort.Strings(r.extremities)
	}
	return positions, nil
}

func (tx *memTx) store(ne storage.NewEvent) (storage.PersistedPosition, error) {
	pos := storage.PersistedPosition{EventID: ne.EventID}
	old, exists := tx.event(ne.EventID)
	if exists && old.RoomID != tx.roomID {
		return pos, fmt.Errorf("memstore: %s is in another room", ne.EventID)
	}
	if exists && !(old.Outlier && !ne.Outlier) {
		pos.Stream, pos.Topo, pos.Existed = old.StreamPos, old.Topo, true
		return pos, nil
	}
	se := storage.StoredEvent{EventID: ne.EventID, RoomID: tx.roomID, Type: ne.Type, StateKey: ne.StateKey, Sender: ne.Sender,
		Depth: ne.Depth, OriginServerTS: ne.OriginServerTS, JSON: ne.JSON, Outlier: ne.Outlier, Rejected: ne.Rejected, SoftFailed: ne.SoftFailed}
	if !ne.Outlier {
		nid, err := tx.saveState(ne.StateBefore)
		if err != nil {
			return pos, fmt.Errorf("memstore: state before %s: %w", ne.EventID, err)
		}
		se.StateBefore = nid
		if ne.Backfilled {
			tx.backfill--
			se.StreamPos = tx.backfill
		} else {
			tx.stream++
			se.StreamPos = tx.stream
		}
		se.Topo = storage.TopoPos{Depth: ne.Depth, Stream: se.StreamPos}
	}
	tx.events[ne.EventID] = se
	pos.Stream, pos.Topo = se.StreamPos, se.Topo
	return pos, nil
}

func (tx *memTx) checkExtremities(ids []string) error {
	for _, id := range ids {
		ev, ok := tx.event(id)
		if !ok || ev.RoomID != tx.roomID || ev.Outlier || ev.Rejected != "" {
			return fmt.Errorf("memstore: %s cannot be a forward extremity", id)
		}
	}
	return nil
}

func (s *memStore) Events(_ context.Context, ids []string) ([]storage.StoredEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.StoredEvent
	for _, id := range ids {
		if ev, ok := s.events[id]; ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (s *memStore) StateSnapshot(_ context.Context, nid int64) ([]storage.StateEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nid < 0 || nid >= int64(len(s.snapshots)) {
		return nil, storage.ErrNotFound
	}
	return sortedEntries(s.snapshots[nid]), nil
}

func sortedEntries(m map[StateKeyTuple]string) []storage.StateEntry {
	out := make([]storage.StateEntry, 0, len(m))
	for k, id := range m {
		out = append(out, storage.StateEntry{Type: k.Type, StateKey: k.StateKey, EventID: id})
	}
	slices.SortFunc(out, func(a, b storage.StateEntry) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.StateKey, b.StateKey)
	})
	return out
}

func (s *memStore) ForwardExtremities(_ context.Context, roomID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[roomID]
	if r == nil {
		return nil, storage.ErrNotFound
	}
	return slices.Clone(r.extremities), nil
}

// members lists the room's users with a membership, from current state.
func (s *memStore) members(roomID, membership string) []string {
	r := s.rooms[roomID]
	var out []string
	for k, id := range s.snapshots[r.current] {
		if k.Type == mRoomMember && gjson.GetBytes(s.events[id].JSON, "content.membership").Str == membership {
			out = append(out, k.StateKey)
		}
	}
	sort.Strings(out)
	return out
}

func (s *memStore) RoomMembers(_ context.Context, roomID, membership string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[roomID] == nil {
		return nil, storage.ErrNotFound
	}
	return s.members(roomID, membership), nil
}

func (s *memStore) JoinedServers(_ context.Context, roomID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[roomID] == nil {
		return nil, storage.ErrNotFound
	}
	var out []string
	for _, u := range s.members(roomID, storage.MembershipJoin) {
		out = append(out, authDomain(u))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (s *memStore) stored(id string) (storage.StoredEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.events[id]
	return ev, ok
}

func (s *memStore) MarkRedacted(_ context.Context, eventID, redactionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.events[eventID]
	if !ok {
		return storage.ErrNotFound
	}
	ev.RedactedBecause = redactionID
	s.events[eventID] = ev
	return nil
}
