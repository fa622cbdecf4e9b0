package roomserver

import (
	"bytes"
	"cmp"
	"crypto/sha1"
	"slices"
)

// srV1 carries one room version 1 resolution: R, the result built in
// passes, and a cache of the events loaded so far.
type srV1 struct {
	loader EventLoader
	auth   StateResAuthorizer
	state  map[StateKeyTuple]string
	events map[string]Event
}

// srV1Candidate is one conflicting event with its ordering facts.
type srV1Candidate struct {
	ev    Event
	depth int64
	hash  [sha1.Size]byte
}

// resolveStateV1 is the room version 1 algorithm. R starts as the union of
// the states without the conflicting keys (keys whose event IDs differ
// between states; a key missing from a state is not a conflict). Conflicts
// are then resolved in passes: power levels, join rules, members (each by
// ascending depth, descending sha1(event_id), applying events while they
// pass auth), then every other key (the highest depth, lowest
// sha1(event_id) event that passes auth).
func resolveStateV1(stateSets []map[StateKeyTuple]string, loader EventLoader, auth StateResAuthorizer) (map[StateKeyTuple]string, error) {
	r := &srV1{loader: loader, auth: auth, events: make(map[string]Event)}
	var conflicts map[StateKeyTuple][]string
	r.state, conflicts = srV1Split(stateSets)
	for _, key := range srV1AuthKeys(conflicts) {
		cands, err := r.candidates(conflicts[key])
		if err != nil {
			return nil, err
		}
		r.resolveAuthConflict(key, cands)
		delete(conflicts, key)
	}
	for _, key := range srSortedKeys(conflicts) {
		cands, err := r.candidates(conflicts[key])
		if err != nil {
			return nil, err
		}
		r.resolveOtherConflict(key, cands)
	}
	return r.state, nil
}

// srV1Split returns the union of the states minus conflicting keys, and
// the distinct event IDs of every conflicting key.
func srV1Split(stateSets []map[StateKeyTuple]string) (map[StateKeyTuple]string, map[StateKeyTuple][]string) {
	union := make(map[StateKeyTuple]string)
	conflicts := make(map[StateKeyTuple][]string)
	for _, set := range stateSets {
		for k, id := range set {
			if ids, ok := conflicts[k]; ok {
				if !slices.Contains(ids, id) {
					conflicts[k] = append(ids, id)
				}
				continue
			}
			if prev, ok := union[k]; ok && prev != id {
				conflicts[k] = []string{prev, id}
				delete(union, k)
				continue
			}
			union[k] = id
		}
	}
	return union, conflicts
}

// srV1AuthKeys lists the conflicting keys that affect authorization, in
// the order v1 resolves them: power levels, join rules, then members
// (ordered by state key so the passes are deterministic).
func srV1AuthKeys(conflicts map[StateKeyTuple][]string) []StateKeyTuple {
	var keys []StateKeyTuple
	for _, k := range []StateKeyTuple{srKeyPowerLevels, srKeyJoinRules} {
		if _, ok := conflicts[k]; ok {
			keys = append(keys, k)
		}
	}
	var members []StateKeyTuple
	for k := range conflicts {
		if k.Type == srTypeMember {
			members = append(members, k)
		}
	}
	slices.SortFunc(members, func(a, b StateKeyTuple) int { return cmp.Compare(a.StateKey, b.StateKey) })
	return append(keys, members...)
}

func srSortedKeys(m map[StateKeyTuple][]string) []StateKeyTuple {
	keys := make([]StateKeyTuple, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b StateKeyTuple) int {
		if c := cmp.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return cmp.Compare(a.StateKey, b.StateKey)
	})
	return keys
}

// candidates loads the conflicting events of one key.
func (r *srV1) candidates(ids []string) ([]srV1Candidate, error) {
	out := make([]srV1Candidate, 0, len(ids))
	for _, id := range ids {
		ev := r.event(id)
		if ev == nil {
			return nil, srMissing(id)
		}
		out = append(out, srV1Candidate{ev: ev, depth: ev.Depth(), hash: sha1.Sum([]byte(id))})
	}
	return out, nil
}

func (r *srV1) event(id string) Event {
	if ev, ok := r.events[id]; ok {
		return ev
	}
	ev, ok := r.loader.Event(id)
	if !ok {
		ev = nil
	}
	r.events[id] = ev
	return ev
}

// resolveAuthConflict sorts by ascending depth then descending
// sha1(event_id), takes the first event, then applies each following event
// while it is allowed in R, stopping at the first that is not.
func (r *srV1) resolveAuthConflict(key StateKeyTuple, cands []srV1Candidate) {
	slices.SortFunc(cands, func(a, b srV1Candidate) int {
		if c := cmp.Compare(a.depth, b.depth); c != 0 {
			return c
		}
		return bytes.Compare(b.hash[:], a.hash[:])
	})
	r.state[key] = cands[0].ev.EventID()
	for _, c := range cands[1:] {
		if !r.allowed(c.ev) {
			return
		}
		r.state[key] = c.ev.EventID()
	}
}

// resolveOtherConflict picks the event with the highest depth and lowest
// sha1(event_id) that is allowed in R. The spec leaves open what happens
// when none is; this keeps the last candidate in that order rather than
// dropping the key.
func (r *srV1) resolveOtherConflict(key StateKeyTuple, cands []srV1Candidate) {
	slices.SortFunc(cands, func(a, b srV1Candidate) int {
		if c := cmp.Compare(b.depth, a.depth); c != 0 {
			return c
		}
		return bytes.Compare(a.hash[:], b.hash[:])
	})
	for _, c := range cands {
		if r.allowed(c.ev) {
			r.state[key] = c.ev.EventID()
			return
		}
	}
	r.state[key] = cands[len(cands)-1].ev.EventID()
}

// allowed checks ev against the authorization rules in state R.
func (r *srV1) allowed(ev Event) bool {
	return r.auth(ev, func(typ, stateKey string) Event {
		id, ok := r.state[StateKeyTuple{Type: typ, StateKey: stateKey}]
		if !ok {
			return nil
		}
		return r.event(id)
	}) == nil
}
