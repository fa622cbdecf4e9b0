package roomserver

import (
	"errors"
	"fmt"
	"slices"

	"github.com/warbler-im/warbler/mxcore"
)

// stateBefore computes the state before a live or backfilled event: the
// empty state for the create event, the state after its prev event, or
// the resolution of the states after its prev events (server-server API,
// "Room State Resolution"). When the event's prev events are the room's
// forward extremities, that is the room's current state, which the
// pipeline keeps equal to the resolution of the states after them.
func (r *batchRun) stateBefore(pdu *mxcore.PDU, given []string) (*stateSet, error) {
	prevs := pdu.PrevEventIDs()
	if len(prevs) == 0 {
		return emptyState(), nil // only the create event may do this: auth decides
	}
	if len(r.extremities) > 0 && sameIDSet(prevs, r.extremities) {
		return r.current, nil
	}
	afters, unknown := r.statesAfter(prevs)
	if r.fatal != nil {
		return nil, r.fatal
	}
	if len(unknown) > 0 {
		if given != nil {
			return r.givenState(pdu, given)
		}
		return nil, &MissingEventsError{Kind: ErrMissingState, EventID: pdu.EventID(), Missing: unknown}
	}
	return r.resolve(afters)
}

// statesAfter returns the states after the given timeline events of the
// room, and the IDs of those whose state is not known here.
func (r *batchRun) statesAfter(ids []string) (states []*stateSet, unknown []string) {
	metas, missing := r.lookupAll(dedupStrings(ids))
	unknown = missing
	for _, m := range metas {
		if m.outlier || m.pdu.RoomID() != r.room.id {
			unknown = append(unknown, m.id())
			continue
		}
		s, err := r.rs.stateAfter(r.ctx, m)
		if err != nil {
			r.fatal = err
			return nil, nil
		}
		states = append(states, s)
	}
	return states, unknown
}

// givenState builds the state the caller supplied (InputEvent.StateBefore)
// from the events it names, leaving out rejected ones, which never form
// state.
func (r *batchRun) givenState(pdu *mxcore.PDU, ids []string) (*stateSet, error) {
	metas, missing := r.lookupAll(ids)
	if r.fatal != nil {
		return nil, r.fatal
	}
	if len(missing) > 0 {
		return nil, &MissingEventsError{Kind: ErrMissingState, EventID: pdu.EventID(), Missing: missing}
	}
	m := make(map[StateKeyTuple]string, len(metas))
	for _, ev := range metas {
		if ev.rejected == "" && ev.isState() && ev.pdu.RoomID() == r.room.id {
			m[StateKeyTuple{ev.pdu.Type(), *ev.pdu.StateKey()}] = ev.id()
		}
	}
	return stateFromMap(m, r.current), nil
}

// resolve merges states with the room version's state resolution.
func (r *batchRun) resolve(states []*stateSet) (*stateSet, error) {
	distinct := make([]*stateSet, 0, len(states))
	for _, s := range states {
		if !slices.Contains(distinct, s) {
			distinct = append(distinct, s)
		}
	}
	if len(distinct) == 1 {
		return distinct[0], nil
	}
	maps := make([]map[StateKeyTuple]string, len(distinct))
	for i, s := range distinct {
		maps[i] = s.Map()
	}
	resolved, err := ResolveState(r.ver, maps, batchLoader{r}, authorizeForStateRes)
	if r.fatal != nil {
		return nil, r.fatal
	}
	if errors.Is(err, ErrStateResMissingEvent) {
		return nil, fmt.Errorf("%w: %w", ErrMissingState, err)
	}
	if err != nil {
		return nil, err
	}
	return stateFromMap(resolved, distinct[0]), nil
}

// authorizeForStateRes plugs the auth rules into state resolution.
func authorizeForStateRes(ev Event, s StateResLookup) error { return Authorize(ev, s) }

// batchLoader lets state resolution read events of the batch and stored
// ones, and tells it which are rejected.
type batchLoader struct{ r *batchRun }

func (l batchLoader) Event(id string) (Event, bool) {
	m := l.r.lookup(id)
	if m == nil {
		return nil, false
	}
	return m.pdu, true
}

func (l batchLoader) Rejected(id string) bool {
	m := l.r.lookup(id)
	return m != nil && m.rejected != ""
}

// advance makes an accepted live event a forward extremity in place of
// its prev events, and moves the current state: to the state after the
// event when it descends from every extremity, else to the resolution of
// the states after all extremities (a fork).
func (r *batchRun) advance(m *eventMeta, before *stateSet) {
	prevs := m.pdu.PrevEventIDs()
	coversAll := true
	next := make([]extremity, 0, len(r.extremities)+1)
	for _, e := range r.extremities {
		if slices.Contains(prevs, e.id) {
			continue
		}
		coversAll = false
		next = append(next, e)
	}
	next = append(next, extremity{id: m.id(), depth: m.pdu.Depth()})
	sortExtremities(next)
	r.extremities, r.extremitiesChanged = next, true
	old := r.current
	if coversAll {
		r.current = applyEvent(before, m)
	} else {
		r.current = r.resolveExtremities(m, before)
	}
	r.currentChanged = r.currentChanged || r.current != old
}

// resolveExtremities resolves the states after every forward extremity.
// If an older extremity's state cannot be read the batch fails.
func (r *batchRun) resolveExtremities(m *eventMeta, before *stateSet) *stateSet {
	ids := make([]string, 0, len(r.extremities))
	for _, e := range r.extremities {
		if e.id != m.id() {
			ids = append(ids, e.id)
		}
	}
	states, unknown := r.statesAfter(ids)
	if r.fatal == nil && len(unknown) > 0 {
		r.fatal = fmt.Errorf("roomserver: state after forward extremities %v of %s not known", unknown, r.room.id)
	}
	if r.fatal != nil {
		return r.current
	}
	resolved, err := r.resolve(append(states, applyEvent(before, m)))
	if err != nil {
		r.fatal = fmt.Errorf("roomserver: resolve current state of %s: %w", r.room.id, err)
		return r.current
	}
	return resolved
}

// sameIDSet reports whether ids (possibly repeated) name exactly the
// extremities.
func sameIDSet(ids []string, ex []extremity) bool {
	for _, id := range ids {
		if !slices.ContainsFunc(ex, func(e extremity) bool { return e.id == id }) {
			return false
		}
	}
	for _, e := range ex {
		if !slices.Contains(ids, e.id) {
			return false
		}
	}
	return true
}
