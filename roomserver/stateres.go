package roomserver

import (
	"errors"
	"fmt"

	"github.com/warbler-im/warbler/mxcore"
)

// State resolution: given the room states after each of an event's
// prev_events, compute the state before the event. These are pure
// functions: events are read only through an EventLoader, authorization
// only through a StateResAuthorizer, and nothing touches a clock, a
// database or the network. The algorithms follow the room version
// specifications: state resolution v1 (room version 1), v2 (versions 2–11)
// and v2.1 (version 12).

// EventLoader gives state resolution the events it reads. Every event named
// in a state set, and every event reachable from those through auth_events,
// must be available. Callers back it with storage and in-memory caches; the
// resolution asks for each event at most once per call and keeps nothing
// between calls.
type EventLoader interface {
	Event(id string) (ev Event, ok bool)
}

// StateResRejections may be implemented by an EventLoader that knows which
// events were rejected. The iterative auth checks then never take a
// rejected event from an event's auth_events (spec: "if the auth event is
// not rejected"). Loaders that do not implement it are assumed to hold no
// rejected events in auth chains, which is what the persist pipeline
// guarantees.
type StateResRejections interface {
	Rejected(id string) bool
}

// StateResLookup returns the event for (type, state_key) in the state an
// event is being authorized against, or nil. Its StateEvent method lets it
// stand in for any "state provider" interface of that shape, so the event
// auth rules can be plugged in without an adapter type.
type StateResLookup func(typ, stateKey string) Event

// StateEvent calls f.
func (f StateResLookup) StateEvent(typ, stateKey string) Event { return f(typ, stateKey) }

// StateResAuthorizer applies the event authorization rules to ev against
// the state given by state, returning nil if ev is allowed. State
// resolution calls it for every event it replays (the "iterative auth
// checks"); it must be pure and deterministic.
type StateResAuthorizer func(ev Event, state StateResLookup) error

// ErrStateResMissingEvent is wrapped by the error ResolveState returns when
// the loader lacks an event the algorithm needs.
var ErrStateResMissingEvent = errors.New("state resolution: event not found")

// ErrStateResUnknownAlgorithm is returned for a room version whose
// StateRes field names no known algorithm.
var ErrStateResUnknownAlgorithm = errors.New("state resolution: unknown algorithm")

// Event types and membership values that state resolution looks at.
const (
	srTypeCreate      = "m.room.create"
	srTypePowerLevels = "m.room.power_levels"
	srTypeJoinRules   = "m.room.join_rules"
	srTypeMember      = "m.room.member"
)

var (
	srKeyCreate      = StateKeyTuple{Type: srTypeCreate}
	srKeyPowerLevels = StateKeyTuple{Type: srTypePowerLevels}
	srKeyJoinRules   = StateKeyTuple{Type: srTypeJoinRules}
)

// ResolveState resolves stateSets (each a map from (type, state_key) to
// event ID) into one state, with the algorithm of the room version: v1,
// v2, or v2.1. The result is a new map; the inputs are not modified. The
// result does not depend on the order of stateSets.
func ResolveState(version mxcore.RoomVersion, stateSets []map[StateKeyTuple]string, loader EventLoader, auth StateResAuthorizer) (map[StateKeyTuple]string, error) {
	if loader == nil || auth == nil {
		return nil, errors.New("state resolution: nil loader or authorizer")
	}
	switch len(stateSets) {
	case 0:
		return map[StateKeyTuple]string{}, nil
	case 1:
		return srCopyState(stateSets[0]), nil
	}
	switch version.StateRes {
	case mxcore.StateResV1:
		return resolveStateV1(stateSets, loader, auth)
	case mxcore.StateResV2:
		return resolveStateV2(version, stateSets, loader, auth, false)
	case mxcore.StateResV21:
		return resolveStateV2(version, stateSets, loader, auth, true)
	default:
		return nil, fmt.Errorf("%w: room version %q", ErrStateResUnknownAlgorithm, version.ID)
	}
}

func srCopyState(s map[StateKeyTuple]string) map[StateKeyTuple]string {
	out := make(map[StateKeyTuple]string, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

func srMissing(id string) error {
	return fmt.Errorf("%w: %s", ErrStateResMissingEvent, id)
}

// srSplit holds the v2 "unconflicted state map and conflicted state set".
type srSplit struct {
	unconflicted map[StateKeyTuple]string
	conflicted   []string   // distinct event IDs, in no particular order
	perSet       [][]string // the conflicted event IDs each state set holds
}

// srSplitConflicts divides the state sets (v2 definitions): a key present in
// every set with the same event is unconflicted; every other value is in
// the conflicted state set. A key missing from some set is conflicted.
func srSplitConflicts(stateSets []map[StateKeyTuple]string) srSplit {
	first, rest := stateSets[0], stateSets[1:]
	split := srSplit{unconflicted: make(map[StateKeyTuple]string, len(first))}
	var keys []StateKeyTuple // conflicted keys, possibly repeated
	shared := make([]int, len(rest))
	for k, id := range first {
		same := true
		for i, s := range rest {
			other, ok := s[k]
			if ok {
				shared[i]++
			}
			same = same && ok && other == id
		}
		if same {
			split.unconflicted[k] = id
		} else {
			keys = append(keys, k)
		}
	}
	for i, s := range rest {
		if shared[i] == len(s) {
			continue // every key of s is in first: nothing new
		}
		for k := range s {
			if _, ok := first[k]; !ok {
				keys = append(keys, k)
			}
		}
	}
	split.collectConflicted(stateSets, keys)
	return split
}

// collectConflicted fills the conflicted state set and each set's share
// of it from the conflicted keys.
func (split *srSplit) collectConflicted(stateSets []map[StateKeyTuple]string, keys []StateKeyTuple) {
	if len(keys) == 0 {
		return
	}
	seenKey := make(map[StateKeyTuple]struct{}, len(keys))
	seenID := make(map[string]struct{}, 2*len(keys))
	split.perSet = make([][]string, len(stateSets))
	for _, k := range keys {
		if _, dup := seenKey[k]; dup {
			continue
		}
		seenKey[k] = struct{}{}
		for i, s := range stateSets {
			id, ok := s[k]
			if !ok {
				continue
			}
			split.perSet[i] = append(split.perSet[i], id)
			if _, dup := seenID[id]; !dup {
				seenID[id] = struct{}{}
				split.conflicted = append(split.conflicted, id)
			}
		}
	}
}
