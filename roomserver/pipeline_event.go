package roomserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// RuleAuthEventRejected: an auth event (or, in v12, the room's create
// event) was itself rejected (rule 2.3 in v1–11, 3.3 in v12). The pure
// auth rules leave this check to the caller, which knows.
const RuleAuthEventRejected AuthRule = "auth_events.rejected"

// batchRun is one pass of the pipeline over a batch of one room. It works
// on copies of the room's current state and extremities, which replace
// the cached ones only after the commit.
type batchRun struct {
	ctx         context.Context
	rs          *RoomServer
	room        *roomState
	ver         mxcore.RoomVersion
	current     *stateSet
	extremities []extremity

	currentChanged, extremitiesChanged bool

	pending map[string]*eventMeta // events of the batch to be stored
	loaded  map[string]*eventMeta // events read for this batch
	absent  map[string]bool       // IDs storage did not have
	// remoteJoined caches whether other servers have members joined to
	// the room before the batch (goesOut); nil until first asked.
	remoteJoined *bool
	batch        []storage.NewEvent
	results      []int // the InputResult index of each batch entry

	// fatal is a storage failure met while reading; it fails the batch.
	fatal error
}

func newBatchRun(ctx context.Context, rs *RoomServer, room *roomState) *batchRun {
	return &batchRun{
		ctx: ctx, rs: rs, room: room, ver: room.version,
		current: room.current, extremities: room.extremities,
		pending: map[string]*eventMeta{}, loaded: map[string]*eventMeta{}, absent: map[string]bool{},
	}
}

// parsedInput is an InputEvent after checks 1 and 3.
type parsedInput struct {
	pdu      *mxcore.PDU
	redacted bool
	err      error
}

// parse applies checks 1 (format, size, room) and 3 (content hash).
func (r *batchRun) parse(in *InputEvent) parsedInput {
	pdu := in.PDU
	if pdu == nil {
		var err error
		if pdu, err = mxcore.NewPDU(in.JSON, r.ver); err != nil {
			return parsedInput{err: fmt.Errorf("%w: %w", ErrInvalidEvent, err)}
		}
	} else if pdu.Version().ID != r.ver.ID {
		return parsedInput{err: fmt.Errorf("%w: parsed for room version %s, room has %s", ErrInvalidEvent, pdu.Version().ID, r.ver.ID)}
	}
	if pdu.RoomID() != r.room.id {
		return parsedInput{pdu: pdu, err: fmt.Errorf("%w: event %s belongs to room %s", ErrInvalidEvent, pdu.EventID(), pdu.RoomID())}
	}
	return r.checkContentHash(pdu, in.Origin)
}

// checkContentHash is check 3: a remote event whose content does not match
// its hash is used redacted, as the spec says ("Validating hashes and
// signatures on received events"). A local one is a bug and is dropped.
func (r *batchRun) checkContentHash(pdu *mxcore.PDU, origin EventOrigin) parsedInput {
	err := mxcore.CheckContentHash(pdu.JSON())
	if err == nil {
		return parsedInput{pdu: pdu}
	}
	if !errors.Is(err, mxcore.ErrContentHashMismatch) || origin != OriginRemote {
		return parsedInput{pdu: pdu, err: fmt.Errorf("%w: content hash: %w", ErrInvalidEvent, err)}
	}
	redactedJSON, err := mxcore.Redact(pdu.JSON(), r.ver)
	if err != nil {
		return parsedInput{pdu: pdu, err: fmt.Errorf("%w: %w", ErrInvalidEvent, err)}
	}
	redacted, err := mxcore.NewPDU(redactedJSON, r.ver)
	if err != nil {
		return parsedInput{pdu: pdu, err: fmt.Errorf("%w: redacted form: %w", ErrInvalidEvent, err)}
	}
	return parsedInput{pdu: redacted, redacted: true}
}

// checkOrigin is check 2: signatures. Local events are signed by the
// builder; remote ones must come verified from the federation layer.
func checkOrigin(in *InputEvent) error {
	switch {
	case in.Origin == OriginLocal:
		return nil
	case in.Origin == OriginRemote && in.SignaturesVerified:
		return nil
	case in.Origin == OriginRemote:
		return ErrUnverifiedEvent
	}
	return fmt.Errorf("%w: no origin given", ErrUnverifiedEvent)
}

// verdict is what the auth checks decided about an event.
type verdict struct {
	before     *stateSet // the state before; nil for outliers
	rejected   string
	softFailed bool
	authErr    error // the refusal behind rejected or softFailed
}

func (v *verdict) reject(err error) {
	if err != nil && v.authErr == nil {
		v.authErr, v.rejected = err, err.Error()
	}
}

// process runs one parsed event through checks 2, 4, 5 and 6 and queues
// it for storage.
func (r *batchRun) process(i int, in *InputEvent, p parsedInput) InputResult {
	res := InputResult{PersistedEvent: PersistedEvent{Event: p.pdu, Origin: in.Origin, Kind: in.Kind, Redacted: p.redacted}}
	if p.pdu != nil {
		res.EventID = p.pdu.EventID()
	}
	if res.Err = p.err; res.Err != nil {
		return res
	}
	if res.Err = checkOrigin(in); res.Err != nil {
		return res
	}
	if known := r.known(res.EventID, in.fresh); known != nil && !(known.outlier && in.Kind != KindOutlier) {
		res.Existed, res.Rejected, res.SoftFailed = true, known.rejected, known.softFailed
		return res
	}
	v, err := r.judge(p.pdu, in)
	if err != nil || r.fatal != nil {
		res.Err = err
		return res
	}
	if in.Origin == OriginLocal && v.authErr != nil {
		res.Err = v.authErr // refused local events are not stored
		return res
	}
	res.Rejected, res.SoftFailed = v.rejected, v.softFailed
	r.queue(i, p.pdu, in, v)
	return res
}

// judge applies the auth checks: against the auth events (4), the state
// before (5) and the current state (6). An error means the event cannot
// be judged and is dropped.
func (r *batchRun) judge(pdu *mxcore.PDU, in *InputEvent) (verdict, error) {
	var v verdict
	authErr, err := r.authByAuthEvents(pdu)
	if err != nil {
		return v, err
	}
	v.reject(authErr)
	if in.Kind == KindOutlier {
		return v, nil
	}
	if v.before, err = r.stateBefore(pdu, in.StateBefore); err != nil {
		return v, err
	}
	if v.authErr == nil {
		v.reject(Authorize(pdu, r.provider(v.before)))
	}
	// A room with no forward extremities yet (being joined) has no
	// current state to soft-fail against.
	if v.authErr == nil && in.Kind == KindLive && v.before != r.current && len(r.extremities) > 0 {
		if err := Authorize(pdu, r.provider(r.current)); err != nil {
			v.softFailed, v.authErr = true, err
		}
	}
	return v, nil
}

// authByAuthEvents is check 4. It returns the refusal, if any, or an
// error when the auth events are not all known.
func (r *batchRun) authByAuthEvents(pdu *mxcore.PDU) (refusal, err error) {
	metas, missing := r.lookupAll(pdu.AuthEventIDs())
	var create *eventMeta
	if r.ver.RoomIDFromCreateEvent && pdu.Type() != mRoomCreate {
		// From v12 the room ID names the create event, which is no longer
		// among the auth events but is still needed, and must not be
		// rejected (v12 rule 2).
		createID := "$" + r.room.id[1:]
		if create = r.lookup(createID); create == nil {
			missing = append(missing, createID)
		} else if create.rejected != "" {
			return authReject(RuleAuthEventRejected, "the room's create event %s was rejected", createID), nil
		}
	}
	if len(missing) > 0 {
		return nil, &MissingEventsError{Kind: ErrMissingAuth, EventID: pdu.EventID(), Missing: missing}
	}
	events := make([]Event, len(metas))
	for i, m := range metas {
		if m.rejected != "" {
			return authReject(RuleAuthEventRejected, "auth event %s was rejected", m.id()), nil
		}
		events[i] = m.pdu
	}
	if create == nil {
		return AuthorizeByAuthEvents(pdu, events, nil), nil
	}
	return AuthorizeByAuthEvents(pdu, events, create.pdu), nil
}

// queue adds a judged event to the batch and moves the room forward.
func (r *batchRun) queue(i int, pdu *mxcore.PDU, in *InputEvent, v verdict) {
	kind := in.Kind
	m := &eventMeta{pdu: pdu, rejected: v.rejected, softFailed: v.softFailed, outlier: kind == KindOutlier}
	ne := storage.NewEvent{
		EventID: pdu.EventID(), Type: pdu.Type(), StateKey: pdu.StateKey(), Sender: pdu.Sender(),
		Depth: pdu.Depth(), OriginServerTS: pdu.OriginServerTS(), JSON: pdu.JSON(),
		PrevEventIDs: pdu.PrevEventIDs(), AuthEventIDs: pdu.AuthEventIDs(),
		Outlier: kind == KindOutlier, Backfilled: kind == KindBackfilled,
		SoftFailed: v.softFailed, Rejected: v.rejected,
		Outbound: r.goesOut(pdu, in, v),
	}
	if v.before != nil {
		m.before.Store(v.before)
		ne.StateBefore = v.before.Ref()
	}
	r.pending[pdu.EventID()] = m
	r.batch = append(r.batch, ne)
	r.results = append(r.results, i)
	if kind == KindLive && v.rejected == "" && !v.softFailed {
		r.advance(m, v.before)
	}
}

// goesOut reports whether the event must reach the room's other servers,
// which puts it in the federation outbox: what this server creates and
// the room accepts goes to the servers joined to the room and, for a
// leave or ban, to the removed user's server (the federation sender's
// rule). A local event cannot join a remote user, so a room without
// remote members before the batch has none after it either: its events
// skip the outbox row and the sender's write (a local room's messages
// cost one insert and one delete fewer each).
func (r *batchRun) goesOut(pdu *mxcore.PDU, in *InputEvent, v verdict) bool {
	if in.Origin != OriginLocal || in.Kind != KindLive || v.rejected != "" || v.softFailed {
		return false
	}
	if r.remoteJoined == nil {
		remote := r.hasRemoteJoined()
		r.remoteJoined = &remote
	}
	return *r.remoteJoined || removesRemoteUser(pdu, r.rs.cfg.ServerName)
}

// hasRemoteJoined reports whether a server other than this one has
// members joined to the room; when it cannot tell, it says yes (an
// outbox row too many costs a delete, one too few loses an event).
func (r *batchRun) hasRemoteJoined() bool {
	servers, err := r.rs.store.JoinedServers(r.ctx, r.room.id)
	if err != nil {
		return true
	}
	for _, s := range servers {
		if s != r.rs.cfg.ServerName {
			return true
		}
	}
	return false
}

// removesRemoteUser reports whether pdu makes a user of another server
// leave or be banned: that server is told even when it has no member
// left in the room.
func removesRemoteUser(pdu *mxcore.PDU, local string) bool {
	user, ok := RemovedUser(pdu)
	return ok && serverOf(user) != local
}

// RemovedUser is the user a membership event makes leave (themselves or
// by a kick) or bans, if it is such an event. The federation sender sends
// it to that user's server too, which may have no member left to learn
// of it otherwise.
func RemovedUser(pdu *mxcore.PDU) (string, bool) {
	if pdu.Type() != "m.room.member" || pdu.StateKey() == nil {
		return "", false
	}
	switch gjson.GetBytes(pdu.Content(), "membership").Str {
	case "leave", "ban":
		return *pdu.StateKey(), true
	}
	return "", false
}

// known returns the event if the batch or storage has it already. A fresh
// event can only be in the batch (a caller persisting it twice).
func (r *batchRun) known(id string, fresh bool) *eventMeta {
	if fresh {
		return r.pending[id]
	}
	return r.lookup(id)
}

// lookup returns an event of the batch or a stored one; nil if unknown.
func (r *batchRun) lookup(id string) *eventMeta {
	if m := r.pending[id]; m != nil {
		return m
	}
	if m := r.loaded[id]; m != nil {
		return m
	}
	if m, ok := r.rs.events.Get(id); ok {
		return m
	}
	if r.absent[id] || r.fatal != nil {
		return nil
	}
	r.load([]string{id})
	return r.loaded[id]
}

// lookupAll looks up several events at once (one storage read for the
// misses) and lists the IDs not known.
func (r *batchRun) lookupAll(ids []string) (found []*eventMeta, missing []string) {
	var misses []string
	for _, id := range ids {
		if r.pending[id] == nil && r.loaded[id] == nil && !r.absent[id] {
			if _, ok := r.rs.events.Get(id); !ok {
				misses = append(misses, id)
			}
		}
	}
	r.load(misses)
	for _, id := range ids {
		if m := r.lookup(id); m != nil {
			found = append(found, m)
		} else {
			missing = append(missing, id)
		}
	}
	return found, missing
}

// load reads events from storage into the batch's view.
func (r *batchRun) load(ids []string) {
	if len(ids) == 0 || r.fatal != nil {
		return
	}
	got, err := r.rs.loadEvents(r.ctx, ids)
	if err != nil {
		r.fatal = err
		return
	}
	for _, id := range ids {
		if m := got[id]; m != nil {
			r.loaded[id] = m
		} else {
			r.absent[id] = true
		}
	}
}

// prefetch reads, in one go, the stored events a batch refers to: its
// events themselves (are they stored already?) and their auth and prev
// events.
func (r *batchRun) prefetch(inputs []InputEvent, parsed []parsedInput) {
	inBatch := make(map[string]bool, len(parsed))
	var ids []string
	for i, p := range parsed {
		if p.pdu == nil {
			continue
		}
		if !inputs[i].fresh {
			ids = append(ids, p.pdu.EventID())
		}
		inBatch[p.pdu.EventID()] = true
	}
	for _, p := range parsed {
		if p.pdu == nil {
			continue
		}
		for _, id := range append(p.pdu.AuthEventIDs(), p.pdu.PrevEventIDs()...) {
			if !inBatch[id] {
				ids = append(ids, id)
			}
		}
	}
	var misses []string
	for _, id := range dedupStrings(ids) {
		if _, ok := r.rs.events.Get(id); !ok {
			misses = append(misses, id)
		}
	}
	r.load(misses)
}

// provider answers the auth rules' lookups in a state.
func (r *batchRun) provider(s *stateSet) AuthStateProvider {
	return stateProvider{r: r, s: s}
}

type stateProvider struct {
	r *batchRun
	s *stateSet
}

func (p stateProvider) StateEvent(typ, stateKey string) Event {
	id, ok := p.s.Get(typ, stateKey)
	if !ok {
		return nil
	}
	m := p.r.lookup(id)
	if m == nil {
		return nil
	}
	return m.pdu
}
