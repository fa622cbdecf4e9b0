package roomserver

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/warbler-im/warbler/storage"
)

// stateSet is an immutable room state: for each (type, state_key), the ID of
// the event that holds it. Sets are built from one another one change at
// a time and share what they have in common, so keeping the state before
// every recent event in memory costs one small node per state event
// (DESIGN.md, "state as shared blocks"), the in-memory mirror of how
// storage keeps snapshots.
//
// Each set also knows how to name itself to storage: as a stored
// snapshot plus the changes since it (a storage.StateRef), so persisting
// an event's state before never copies the room's state.
type stateSet struct {
	parent  *stateSet     // the state this one changes; nil for a flat state
	key     StateKeyTuple // the slot changed over parent
	eventID string        // the slot's new event; "" empties it
	hops    int           // changes between this state and flat
	flat    *flatState    // the nearest flat ancestor (or this state's own)
	full    atomic.Pointer[map[StateKeyTuple]string]
	sorted  atomic.Pointer[[]storage.StateEntry]
}

// flatState is a state held as a whole map, and its name in storage.
type flatState struct {
	entries map[StateKeyTuple]string // read-only once built
	base    int64                    // the stored snapshot the name builds on
	changes []storage.StateEntry     // over base; nil when entries are base
}

// maxStateHops bounds the chain of changes a lookup walks before the
// state is flattened into a map of its own.
const maxStateHops = 32

// emptyState is the state before a room's create event: snapshot 0.
func emptyState() *stateSet {
	return newFlatState(&flatState{entries: map[StateKeyTuple]string{}})
}

func newFlatState(f *flatState) *stateSet {
	s := &stateSet{flat: f}
	s.full.Store(&f.entries)
	return s
}

// stateFromSnapshot is the state of stored snapshot nid.
func stateFromSnapshot(nid int64, entries []storage.StateEntry) *stateSet {
	m := make(map[StateKeyTuple]string, len(entries))
	for _, e := range entries {
		m[StateKeyTuple{e.Type, e.StateKey}] = e.EventID
	}
	return newFlatState(&flatState{entries: m, base: nid})
}

// stateFromMap is a state with the entries of m, named to storage as the
// changes from like's name.
func stateFromMap(m map[StateKeyTuple]string, like *stateSet) *stateSet {
	old := like.Map()
	changes := like.refChanges()
	for k, id := range m {
		if old[k] != id {
			changes = append(changes, storage.StateEntry{Type: k.Type, StateKey: k.StateKey, EventID: id})
		}
	}
	for k := range old {
		if _, ok := m[k]; !ok {
			changes = append(changes, storage.StateEntry{Type: k.Type, StateKey: k.StateKey})
		}
	}
	return newFlatState(&flatState{entries: m, base: like.flat.base, changes: dedupChanges(changes)})
}

// Get returns the event holding (typ, stateKey), if any.
func (s *stateSet) Get(typ, stateKey string) (string, bool) {
	k := StateKeyTuple{typ, stateKey}
	if full := s.full.Load(); full != nil {
		id, ok := (*full)[k]
		return id, ok
	}
	for n := s; n.parent != nil; n = n.parent {
		if n.key == k {
			return n.eventID, n.eventID != ""
		}
	}
	id, ok := s.flat.entries[k]
	return id, ok
}

// With returns the state with (typ, stateKey) held by eventID ("" empties
// the slot). s is unchanged.
func (s *stateSet) With(typ, stateKey, eventID string) *stateSet {
	n := &stateSet{parent: s, key: StateKeyTuple{typ, stateKey}, eventID: eventID, hops: s.hops + 1, flat: s.flat}
	if n.hops > maxStateHops {
		return n.flatten()
	}
	return n
}

// flatten turns a chain of changes into a flat state of the same content
// and the same storage name.
func (s *stateSet) flatten() *stateSet {
	return newFlatState(&flatState{entries: s.Map(), base: s.flat.base, changes: dedupChanges(s.refChanges())})
}

// chain lists the changes over the flat ancestor, oldest first.
func (s *stateSet) chain() []*stateSet {
	nodes := make([]*stateSet, 0, s.hops)
	for n := s; n.parent != nil; n = n.parent {
		nodes = append(nodes, n)
	}
	slices.Reverse(nodes)
	return nodes
}

// Map returns the whole state. The map is shared: callers must not
// modify it.
func (s *stateSet) Map() map[StateKeyTuple]string {
	if full := s.full.Load(); full != nil {
		return *full
	}
	m := make(map[StateKeyTuple]string, len(s.flat.entries)+s.hops)
	for k, v := range s.flat.entries {
		m[k] = v
	}
	for _, n := range s.chain() {
		if n.eventID == "" {
			delete(m, n.key)
		} else {
			m[n.key] = n.eventID
		}
	}
	s.full.Store(&m)
	return m
}

// Len is the number of occupied slots.
func (s *stateSet) Len() int { return len(s.Map()) }

// Entries returns the state sorted by type, then state key, as storage
// sorts it. The slice is the caller's.
func (s *stateSet) Entries() []storage.StateEntry {
	if sorted := s.sorted.Load(); sorted != nil {
		return slices.Clone(*sorted)
	}
	out := s.sortEntries()
	s.sorted.Store(&out)
	return slices.Clone(out)
}

func (s *stateSet) sortEntries() []storage.StateEntry {
	m := s.Map()
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

// Ref names the state to storage: a stored snapshot and changes over it.
func (s *stateSet) Ref() storage.StateRef {
	return storage.StateRef{Base: s.flat.base, Changes: s.refChanges()}
}

func (s *stateSet) refChanges() []storage.StateEntry {
	if s.hops == 0 && len(s.flat.changes) == 0 {
		return nil
	}
	out := make([]storage.StateEntry, 0, len(s.flat.changes)+s.hops)
	out = append(out, s.flat.changes...)
	for _, n := range s.chain() {
		out = append(out, storage.StateEntry{Type: n.key.Type, StateKey: n.key.StateKey, EventID: n.eventID})
	}
	return out // flat.changes has no repeats; the chain adds at most maxStateHops
}

// pendingChanges counts the changes storage has not named with a
// snapshot of its own yet.
func (s *stateSet) pendingChanges() int { return len(s.flat.changes) + s.hops }

// rebased is the same state, named as stored snapshot nid, which the
// caller knows holds exactly this content.
func (s *stateSet) rebased(nid int64) *stateSet {
	return newFlatState(&flatState{entries: s.Map(), base: nid})
}

// dedupChanges keeps the last change of each slot, in first-seen order.
func dedupChanges(changes []storage.StateEntry) []storage.StateEntry {
	at := make(map[StateKeyTuple]int, len(changes))
	out := changes[:0:0]
	for _, c := range changes {
		k := StateKeyTuple{c.Type, c.StateKey}
		if i, ok := at[k]; ok {
			out[i].EventID = c.EventID
			continue
		}
		at[k] = len(out)
		out = append(out, c)
	}
	return out
}
