package roomserver

import (
	"cmp"
	"slices"

	"github.com/warbler-im/warbler/mxcore"
)

// srResolver carries one v2/v2.1 resolution: the graph, the memoised
// per-event facts (parsed power levels, power levels auth event, sender
// creators) and the state being built by the iterative auth checks.
type srResolver struct {
	version  mxcore.RoomVersion
	auth     StateResAuthorizer
	g        *srGraph
	rejected StateResRejections

	// Memos, indexed by node, filled on first use.
	plAuth   []int32          // the m.room.power_levels auth event; -1 none; srUnknown
	parsedPL []*srPowerLevels // parsed content of power levels nodes
	creators map[string]*srCreators
	creates  map[string]Event // v12 create events by room ID

	// The state of the iterative auth checks: replayed events in state,
	// over base (the unconflicted state map in v2, nil in v2.1).
	state map[StateKeyTuple]int32
	base  map[StateKeyTuple]string
	// The event being checked, and the lookup handed to the authorizer.
	cur    int32
	lookup StateResLookup
}

const srUnknown = -2

// resolveStateV2 is the "Algorithm" of state resolution v2; with v21 set it
// applies the room version 12 changes (v2.1).
func resolveStateV2(version mxcore.RoomVersion, stateSets []map[StateKeyTuple]string, loader EventLoader, auth StateResAuthorizer, v21 bool) (map[StateKeyTuple]string, error) {
	split := srSplitConflicts(stateSets)
	if len(split.conflicted) == 0 {
		return split.unconflicted, nil // every set is identical
	}
	r, err := newSRResolver(version, split, loader, auth)
	if err != nil {
		return nil, err
	}
	full := r.fullConflictedSet(split, v21)
	// Step 1: power events and their auth chains within the full
	// conflicted set, in reverse topological power ordering.
	power, picked := r.sortPowerEvents(full)
	// Step 2: iterative auth checks from the unconflicted state map (v2)
	// or from an empty state map (v2.1).
	r.state = make(map[StateKeyTuple]int32, srCount(full))
	if !v21 {
		r.base = split.unconflicted
	}
	r.iterativeAuthChecks(power)
	// Step 3: the other events by mainline ordering based on the resolved
	// power levels. Step 4: iterative auth checks on the partial state.
	r.iterativeAuthChecks(r.mainlineOrder(r.remaining(full, picked)))
	// Step 5: the unconflicted state map wins over anything replayed.
	return r.result(split.unconflicted), nil
}

func srCount(marks []bool) int {
	n := 0
	for _, m := range marks {
		if m {
			n++
		}
	}
	return n
}

// newSRResolver loads every state-set event and its auth chain.
func newSRResolver(version mxcore.RoomVersion, split srSplit, loader EventLoader, auth StateResAuthorizer) (*srResolver, error) {
	size := 2 * (len(split.unconflicted) + len(split.conflicted))
	r := &srResolver{version: version, auth: auth, g: newSRGraph(loader, size)}
	r.rejected, _ = loader.(StateResRejections)
	r.lookup = r.stateLookup
	roots := make([]int32, 0, len(split.unconflicted)+len(split.conflicted))
	for _, id := range split.unconflicted {
		n, err := r.g.node(id)
		if err != nil {
			return nil, err
		}
		roots = append(roots, n)
	}
	for _, id := range split.conflicted {
		n, err := r.g.node(id)
		if err != nil {
			return nil, err
		}
		roots = append(roots, n)
	}
	if err := r.g.walkAuthChains(roots); err != nil {
		return nil, err
	}
	n := len(r.g.events)
	r.plAuth = make([]int32, n)
	for i := range r.plAuth {
		r.plAuth[i] = srUnknown
	}
	r.parsedPL = make([]*srPowerLevels, n)
	return r, nil
}

// fullConflictedSet marks the "full conflicted set": the conflicted state
// set and the auth difference, and in v2.1 the conflicted state subgraph.
func (r *srResolver) fullConflictedSet(split srSplit, v21 bool) []bool {
	g := r.g
	conflicted := make([]bool, len(g.events))
	for _, id := range split.conflicted {
		conflicted[g.index[id]] = true
	}
	shared := make([]int32, 0, len(split.unconflicted))
	for _, id := range split.unconflicted {
		shared = append(shared, g.index[id])
	}
	sets := make([][]int32, len(split.perSet))
	for i, ids := range split.perSet {
		sets[i] = make([]int32, len(ids))
		for j, id := range ids {
			sets[i][j] = g.index[id]
		}
	}
	full := g.authDifference(shared, sets)
	var sub []bool
	if v21 {
		sub = g.conflictedSubgraph(conflicted)
	}
	for i := range full {
		full[i] = full[i] || conflicted[i] || (sub != nil && sub[i])
	}
	return full
}

// remaining lists the full conflicted set minus the events picked in step 1.
func (r *srResolver) remaining(full, picked []bool) []int32 {
	var out []int32
	for _, n := range r.g.post {
		if full[n] && !picked[n] {
			out = append(out, n)
		}
	}
	return out
}

// result re-applies the unconflicted state map over the resolved state
// (step 5). It fills unconflicted, which the caller no longer needs.
func (r *srResolver) result(unconflicted map[StateKeyTuple]string) map[StateKeyTuple]string {
	for k, n := range r.state {
		if _, ok := unconflicted[k]; !ok {
			unconflicted[k] = r.g.events[n].EventID()
		}
	}
	return unconflicted
}

// stateEvent looks a key up in the state of the iterative auth checks.
func (r *srResolver) stateEvent(k StateKeyTuple) (int32, bool) {
	if n, ok := r.state[k]; ok {
		return n, true
	}
	if id, ok := r.base[k]; ok {
		n, ok := r.g.index[id]
		return n, ok
	}
	return -1, false
}

// iterativeAuthChecks applies each event of list, in order, to r.state if
// the authorization rules allow it against r.state, taking any key the
// state lacks from the event's own (non-rejected) auth events. Events that
// fail are ignored.
func (r *srResolver) iterativeAuthChecks(list []int32) {
	for _, n := range list {
		ev := r.g.events[n]
		sk := ev.StateKey()
		if sk == nil {
			continue
		}
		r.cur = n
		if r.auth(ev, r.lookup) == nil {
			r.state[StateKeyTuple{Type: ev.Type(), StateKey: *sk}] = n
		}
	}
}

// stateLookup is the state the event r.cur is checked against: the state
// so far, then its own auth events, then (v12, where auth_events omit it)
// the create event named by the room ID.
func (r *srResolver) stateLookup(typ, stateKey string) Event {
	if n, ok := r.stateEvent(StateKeyTuple{Type: typ, StateKey: stateKey}); ok {
		return r.g.events[n]
	}
	for _, a := range r.g.authOf(r.cur) {
		ev := r.g.events[a]
		if sk := ev.StateKey(); sk != nil && *sk == stateKey && ev.Type() == typ && !r.isRejected(ev) {
			return ev
		}
	}
	if typ == srTypeCreate && stateKey == "" && r.version.RoomIDFromCreateEvent {
		if ev := r.createByRoomID(r.g.events[r.cur].RoomID()); ev != nil {
			return ev
		}
	}
	return nil
}

func (r *srResolver) isRejected(ev Event) bool {
	return r.rejected != nil && r.rejected.Rejected(ev.EventID())
}

// createByRoomID finds a v12 create event from the room ID, loading it at
// most once per resolution.
func (r *srResolver) createByRoomID(roomID string) Event {
	if ev, ok := r.creates[roomID]; ok {
		return ev
	}
	var ev Event
	id := srCreateEventID(roomID)
	if n, ok := r.g.index[id]; ok {
		ev = r.g.events[n]
	} else if loaded, ok := r.g.loader.Event(id); ok && loaded != nil && id != "" {
		ev = loaded
	}
	if r.creates == nil {
		r.creates = make(map[string]Event, 1)
	}
	r.creates[roomID] = ev
	return ev
}

// powerLevelsAuthEvent returns the m.room.power_levels event among the
// auth events of n, or -1; memoised.
func (r *srResolver) powerLevelsAuthEvent(n int32) int32 {
	if p := r.plAuth[n]; p != srUnknown {
		return p
	}
	p := int32(-1)
	for _, a := range r.g.authOf(n) {
		if ev := r.g.events[a]; ev.Type() == srTypePowerLevels && srIsEmptyKey(ev) {
			p = a
			break
		}
	}
	r.plAuth[n] = p
	return p
}

// createAuthEvent returns the m.room.create event among the auth events of
// n, or nil.
func (r *srResolver) createAuthEvent(n int32) Event {
	for _, a := range r.g.authOf(n) {
		if ev := r.g.events[a]; ev.Type() == srTypeCreate && srIsEmptyKey(ev) {
			return ev
		}
	}
	return nil
}

func srIsEmptyKey(ev Event) bool {
	sk := ev.StateKey()
	return sk != nil && *sk == ""
}

// powerLevelsOf returns the parsed content of power levels node p.
func (r *srResolver) powerLevelsOf(p int32) *srPowerLevels {
	if pl := r.parsedPL[p]; pl != nil {
		return pl
	}
	pl := parseSRPowerLevels(r.g.events[p].Content())
	r.parsedPL[p] = pl
	return pl
}

// senderPower is the power level of n's sender "when looking at its
// auth_events": the power levels auth event if any, otherwise 100 for the
// room creator and 0 for anyone else. In v12 room creators are infinitely
// powerful whatever the power levels say.
func (r *srResolver) senderPower(n int32) int64 {
	ev := r.g.events[n]
	sender := ev.Sender()
	if r.version.PrivilegedCreators && r.roomCreators(ev.RoomID()).has(sender) {
		return srInfinitePower
	}
	if p := r.powerLevelsAuthEvent(n); p >= 0 {
		return r.powerLevelsOf(p).userLevel(sender)
	}
	if !r.version.PrivilegedCreators {
		create := r.createAuthEvent(n)
		if srCreatorsOf(create, r.version.ImplicitRoomCreator, false).has(sender) {
			return 100
		}
	}
	return 0
}

// roomCreators returns the v12 creators of a room (sender of the create
// event plus additional_creators), memoised per room.
func (r *srResolver) roomCreators(roomID string) *srCreators {
	if c, ok := r.creators[roomID]; ok {
		return c
	}
	if r.creators == nil {
		r.creators = make(map[string]*srCreators, 1)
	}
	c := srCreatorsOf(r.createByRoomID(roomID), true, true)
	r.creators[roomID] = c
	return c
}

// srOrderKey is what both orderings compare after their first criterion.
type srOrderKey struct {
	rank int64 // sender power (step 1) or mainline position (step 3)
	ts   int64
	id   string
}

func (r *srResolver) orderKey(n int32, rank int64) srOrderKey {
	ev := r.g.events[n]
	return srOrderKey{rank: rank, ts: ev.OriginServerTS(), id: ev.EventID()}
}

// compareSROrder orders keys by rank descending (greater sender power, or
// greater mainline position, first), then origin_server_ts ascending, then
// event ID ascending.
func compareSROrder(a, b srOrderKey) int {
	if c := cmp.Compare(b.rank, a.rank); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// mainlineOrder sorts events by the "mainline ordering" based on the power
// levels event in the state resolved so far.
func (r *srResolver) mainlineOrder(events []int32) []int32 {
	n := len(r.g.events)
	onMainline := make([]int64, n) // mainline index + 1; 0 = not on it
	if p, ok := r.stateEvent(srKeyPowerLevels); ok {
		for i := int64(1); p >= 0 && onMainline[p] == 0; i++ {
			onMainline[p] = i
			p = r.powerLevelsAuthEvent(p)
		}
	}
	memo := make([]int64, n) // position + 1; 0 = not computed
	keys := make([]srOrderKey, len(events))
	idx := make([]int32, len(events))
	for i, e := range events {
		keys[i] = r.orderKey(e, r.mainlinePosition(e, onMainline, memo))
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return compareSROrder(keys[a], keys[b]) })
	out := make([]int32, len(events))
	for i, j := range idx {
		out[i] = events[j]
	}
	return out
}

// mainlinePosition follows the power levels auth events of e (e itself
// excluded) to the first one on the mainline and returns its mainline
// index, or srInfinitePower if none is. Every event passed on the way has
// the same position, so the walk memoises them all (in memo: 0 unknown,
// -1 infinite, else position + 1).
func (r *srResolver) mainlinePosition(e int32, onMainline, memo []int64) int64 {
	var path []int32
	found := int64(-1)
	for n := e; ; {
		if v := memo[n]; v != 0 {
			found = v
			break
		}
		path = append(path, n)
		p := r.powerLevelsAuthEvent(n)
		if p < 0 {
			break
		}
		if i := onMainline[p]; i != 0 {
			found = i
			break
		}
		if len(path) > len(r.g.events) { // an auth cycle; no mainline
			break
		}
		n = p
	}
	for _, n := range path {
		memo[n] = found
	}
	if found < 0 {
		return srInfinitePower
	}
	return found - 1
}
