package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/storage"
)

// PersistEvents is the one way events enter the database (DESIGN.md,
// principle 2). One call is one transaction, in this order:
//
//  1. NIDs for every type and state key named, created in sorted order;
//  2. the room row, locked on PostgreSQL so writers of one room queue;
//  3. which events exist already (no-ops, or outliers to de-outlier);
//  4. per new event: its state-before snapshot, then its positions, then
//     its row; the events stream counter is taken just before the first
//     row that needs a position and stays locked until commit, which makes
//     stream order the commit order without holding the lock for the
//     state work of the first event;
//  5. prev/auth edges, the new current state (with the current-state,
//     membership and joined-server tables), the forward extremities.
//
// Caches learn the NIDs and snapshots made here only after commit.

// txEvent is what a persist knows of an event stored before or during it.
type txEvent struct {
	nid, room, typ int64
	key            int64 // state_key_nid; 0 when not a state event
	isState        bool
	outlier        bool
	rejected       bool
	stream         int64
	topo           storage.TopoPos
	json           []byte // only for events of the batch
}

type persistAction int

const (
	actExisted persistAction = iota
	actInsert
	actDeoutlier
)

// persister holds the state of one write transaction of the room store.
type persister struct {
	db      *DB
	rs      *roomsState
	tx      *cachedTx
	st      *stateWriter
	room    int64
	roomID  string
	current int64 // the room's current snapshot

	types, keys               map[string]int64 // NIDs of the names this call uses
	pendingTypes, pendingKeys map[string]int64 // to cache after commit
	events                    map[string]*txEvent
	stmts                     map[*sql.Stmt]*sql.Stmt

	// Positions: nNormal and nBack are counted up front; the counters are
	// taken on first use.
	nNormal, nBack int
	haveStream     bool
	taken          []int64 // the events stream positions taken, ascending
	streamNext     int     // index in taken of the next to hand out
	haveBack       bool
	backNext       int64
	backCeil       int64 // backfilled topo depths are at most this
	backCeilSet    bool
	edges          []any // ref_event_id, kind, event_nid triples
	recent         []savedRef
	// positioned holds the events given stream positions, in order, for
	// the recent-events cache once the transaction committed, and
	// relatedTo the events this batch's relations point at (recent.go).
	positioned []recentEvent
	relatedTo  []string
	// memberUsers are the users whose memberships this write changes,
	// marked in the room-list cache until it ends (user_cache.go), and
	// serversWritten says the room's joined servers are marked likewise.
	memberUsers    []string
	serversWritten bool
}

func (db *DB) newPersister(rs *roomsState, tx *sql.Tx, roomID string) *persister {
	return &persister{
		db: db, rs: rs, tx: db.newCachedTx(tx), st: newStateWriter(db, rs, tx), roomID: roomID,
		pendingTypes: map[string]int64{}, pendingKeys: map[string]int64{},
		events: map[string]*txEvent{}, stmts: map[*sql.Stmt]*sql.Stmt{},
	}
}

// commitCaches hands what the committed transaction created to the caches.
func (p *persister) commitCaches() {
	for name, nid := range p.pendingTypes {
		p.rs.types.add(name, nid)
	}
	for name, nid := range p.pendingKeys {
		p.rs.stateKeys.add(name, nid)
	}
	p.st.commitCache()
}

// stmt binds a prepared statement to the transaction.
func (p *persister) stmt(ctx context.Context, s *sql.Stmt) *sql.Stmt {
	if ts, ok := p.stmts[s]; ok {
		return ts
	}
	ts := p.tx.Tx.StmtContext(ctx, s)
	p.stmts[s] = ts
	return ts
}

func validateBatch(roomID string, batch []storage.NewEvent) error {
	if roomID == "" {
		return errors.New("storage: PersistEvents needs a room ID")
	}
	for i, ev := range batch {
		if ev.EventID == "" || ev.Type == "" || ev.Sender == "" || len(ev.JSON) == 0 {
			return fmt.Errorf("storage: PersistEvents: event %d of the batch lacks an event ID, type, sender or JSON", i)
		}
	}
	return nil
}

// PersistEvents implements storage.RoomStore.
func (db *DB) PersistEvents(ctx context.Context, roomID string, batch []storage.NewEvent, update storage.RoomUpdate) ([]storage.PersistedPosition, error) {
	if err := validateBatch(roomID, batch); err != nil {
		return nil, err
	}
	rs, err := db.roomsFor(ctx)
	if err != nil {
		return nil, err
	}
	var p *persister
	var positions []storage.PersistedPosition
	began := db.recent.begin(roomID)
	err = db.roomWriteTx(ctx, func(tx *sql.Tx) error {
		p = db.newPersister(rs, tx, roomID)
		var err error
		positions, err = p.persist(ctx, batch, update)
		return err
	})
	// The rings take the events before their positions become visible
	// (on PostgreSQL at finishStream; see recent.go).
	if err == nil {
		db.recent.end(roomID, began, p.positioned, p.relatedTo)
	} else {
		db.recent.end(roomID, began, nil, nil)
	}
	if p != nil {
		db.users.rooms.endWrite(p.memberUsers...)
		if p.serversWritten {
			db.users.joinedServers.endWrite(roomID)
		}
		db.finishStream(p.taken, err == nil)
	}
	if err != nil {
		return nil, err
	}
	p.commitCaches()
	return positions, nil
}

// SaveStateSnapshot implements storage.RoomStore.
func (db *DB) SaveStateSnapshot(ctx context.Context, roomID string, ref storage.StateRef) (int64, error) {
	rs, err := db.roomsFor(ctx)
	if err != nil {
		return 0, err
	}
	var p *persister
	var nid int64
	err = db.roomWriteTx(ctx, func(tx *sql.Tx) error {
		p = db.newPersister(rs, tx, roomID)
		if err := p.assignNames(ctx, nil, storage.RoomUpdate{SetCurrentState: &ref}); err != nil {
			return err
		}
		if err := p.lockRoom(ctx); err != nil {
			return err
		}
		var err error
		nid, err = p.saveState(ctx, ref)
		return err
	})
	if err != nil {
		return 0, err
	}
	p.commitCaches()
	return nid, nil
}

func (p *persister) persist(ctx context.Context, batch []storage.NewEvent, update storage.RoomUpdate) ([]storage.PersistedPosition, error) {
	if err := p.assignNames(ctx, batch, update); err != nil {
		return nil, err
	}
	if err := p.lockRoom(ctx); err != nil {
		return nil, err
	}
	ids := make([]string, len(batch))
	for i, ev := range batch {
		ids[i] = ev.EventID
	}
	if err := p.loadEvents(ctx, ids); err != nil {
		return nil, err
	}
	actions, err := p.plan(batch)
	if err != nil {
		return nil, err
	}
	positions := make([]storage.PersistedPosition, len(batch))
	var outliers []*storage.NewEvent // new outliers not yet inserted
	for i := range batch {
		ev := &batch[i]
		if actions[i] == actInsert && ev.Outlier {
			// Outliers need no positions or state: they are inserted
			// many rows at a time, which makes the thousands of state
			// events of a federated join cheap.
			outliers = append(outliers, ev)
			positions[i] = storage.PersistedPosition{EventID: ev.EventID}
			continue
		}
		if err := p.insertOutliers(ctx, outliers); err != nil {
			return nil, err
		}
		outliers = outliers[:0]
		if actions[i] == actExisted {
			te := p.events[ev.EventID]
			positions[i] = storage.PersistedPosition{EventID: ev.EventID, Stream: te.stream, Topo: te.topo, Existed: true}
			continue
		}
		if positions[i], err = p.store(ctx, ev, actions[i]); err != nil {
			return nil, err
		}
		if err := p.indexForSearch(ctx, ev); err != nil {
			return nil, err
		}
		if err := p.recordRelation(ctx, ev, positions[i]); err != nil {
			return nil, err
		}
	}
	if err := p.insertOutliers(ctx, outliers); err != nil {
		return nil, err
	}
	if err := p.insertEdges(ctx); err != nil {
		return nil, fmt.Errorf("storage: store event edges: %w", err)
	}
	if update.SetCurrentState != nil {
		if err := p.setCurrentState(ctx, *update.SetCurrentState); err != nil {
			return nil, err
		}
	}
	if update.ForwardExtremities != nil {
		if err := p.setForwardExtremities(ctx, update.ForwardExtremities); err != nil {
			return nil, err
		}
	}
	return positions, nil
}

// assignNames gives a NID to every type and state key the call names.
func (p *persister) assignNames(ctx context.Context, batch []storage.NewEvent, update storage.RoomUpdate) error {
	var types, keys []string
	addRef := func(ref storage.StateRef) {
		for _, c := range ref.Changes {
			types = append(types, c.Type)
			keys = append(keys, c.StateKey)
		}
	}
	for _, ev := range batch {
		types = append(types, ev.Type)
		if ev.StateKey != nil {
			keys = append(keys, *ev.StateKey)
		}
		if !ev.Outlier {
			addRef(ev.StateBefore)
		}
	}
	if update.SetCurrentState != nil {
		addRef(*update.SetCurrentState)
	}
	var err error
	if p.types, err = p.db.assignNIDs(ctx, p.tx.Tx, p.rs.types, typesTable, types, p.pendingTypes); err != nil {
		return err
	}
	p.keys, err = p.db.assignNIDs(ctx, p.tx.Tx, p.rs.stateKeys, stateKeysTable, keys, p.pendingKeys)
	return err
}

// lockRoom reads (and on PostgreSQL locks) the room row.
func (p *persister) lockRoom(ctx context.Context) error {
	err := p.stmt(ctx, p.rs.stmts.lockRoom).QueryRowContext(ctx, p.roomID).Scan(&p.room, &p.current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("storage: room %s: %w", p.roomID, storage.ErrNotFound)
	}
	return err
}

// loadEvents adds the stored events among ids to p.events.
func (p *persister) loadEvents(ctx context.Context, ids []string) error {
	var missing []string
	queued := map[string]bool{}
	for _, id := range ids {
		if _, ok := p.events[id]; !ok && !queued[id] {
			queued[id] = true
			missing = append(missing, id)
		}
	}
	if len(missing) == 1 {
		rows, err := p.stmt(ctx, p.rs.stmts.eventByID).QueryContext(ctx, missing[0])
		if err != nil {
			return err
		}
		return p.scanEventInfo(rows)
	}
	return forChunks(missing, func(chunk []string) error {
		cond, args := p.db.inStrings("event_id", 1, chunk)
		rows, err := p.tx.QueryContext(ctx, p.db.q(qEventInfo+` WHERE `+cond), args...)
		if err != nil {
			return err
		}
		return p.scanEventInfo(rows)
	})
}

func (p *persister) scanEventInfo(rows *sql.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var id string
		var key sql.NullInt64
		te := &txEvent{}
		if err := rows.Scan(&id, &te.nid, &te.room, &te.typ, &key, &te.outlier, &te.rejected, &te.stream, &te.topo.Depth); err != nil {
			return err
		}
		te.key, te.isState = key.Int64, key.Valid
		if te.outlier {
			te.topo = storage.TopoPos{}
		} else {
			te.topo.Stream = te.stream
		}
		p.events[id] = te
	}
	return rows.Err()
}

// plan decides what to do with each batch entry and counts the positions
// needed. An entry repeated in the batch acts on what the earlier one left.
func (p *persister) plan(batch []storage.NewEvent) ([]persistAction, error) {
	actions := make([]persistAction, len(batch))
	outlier := map[string]bool{} // stored (or to be) as an outlier, by ID
	for id, te := range p.events {
		if te.room != p.room {
			return nil, fmt.Errorf("storage: event %s is stored in another room", id)
		}
		outlier[id] = te.outlier
	}
	for i, ev := range batch {
		wasOutlier, known := outlier[ev.EventID]
		switch {
		case !known:
			actions[i] = actInsert
			outlier[ev.EventID] = ev.Outlier
		case wasOutlier && !ev.Outlier:
			actions[i] = actDeoutlier
			outlier[ev.EventID] = false
		default:
			actions[i] = actExisted
			continue
		}
		if !ev.Outlier {
			if ev.Backfilled {
				p.nBack++
			} else {
				p.nNormal++
			}
		}
	}
	return actions, nil
}

// store inserts a new event or de-outliers a stored one.
func (p *persister) store(ctx context.Context, ev *storage.NewEvent, act persistAction) (storage.PersistedPosition, error) {
	pos := storage.PersistedPosition{EventID: ev.EventID}
	var stateBefore, stream, topoDepth sql.NullInt64
	if !ev.Outlier {
		nid, err := p.saveState(ctx, ev.StateBefore)
		if err != nil {
			return pos, fmt.Errorf("storage: state before %s: %w", ev.EventID, err)
		}
		stateBefore = sql.NullInt64{Int64: nid, Valid: true}
		if pos.Stream, pos.Topo, err = p.takePosition(ctx, ev); err != nil {
			return pos, err
		}
		stream = sql.NullInt64{Int64: pos.Stream, Valid: true}
		topoDepth = sql.NullInt64{Int64: pos.Topo.Depth, Valid: true}
	}
	rejected := sql.NullString{String: ev.Rejected, Valid: ev.Rejected != ""}
	if act == actDeoutlier {
		te := p.events[ev.EventID]
		_, err := p.tx.ExecContext(ctx, p.db.q(qDeoutlierEvent), te.nid, ev.JSON, rejected, ev.SoftFailed, stream, topoDepth, stateBefore)
		if err != nil {
			return pos, fmt.Errorf("storage: de-outlier %s: %w", ev.EventID, err)
		}
		te.outlier, te.rejected, te.stream, te.topo, te.json = false, ev.Rejected != "", pos.Stream, pos.Topo, ev.JSON
		// Relations may point at it since it arrived as an outlier.
		p.notePositioned(ev, pos, stateBefore.Int64, false)
		return pos, nil
	}
	te := &txEvent{room: p.room, typ: p.types[ev.Type], outlier: ev.Outlier, rejected: ev.Rejected != "",
		stream: pos.Stream, topo: pos.Topo, json: ev.JSON}
	var key sql.NullInt64
	if ev.StateKey != nil {
		te.key, te.isState = p.keys[*ev.StateKey], true
		key = sql.NullInt64{Int64: te.key, Valid: true}
	}
	var related bool // whether relations stored earlier point at it
	err := p.stmt(ctx, p.rs.stmts.insertEvent).QueryRowContext(ctx, ev.EventID, p.room, te.typ, key, ev.Sender,
		ev.Depth, ev.OriginServerTS, ev.JSON, ev.Outlier, rejected, ev.SoftFailed, stream, topoDepth, stateBefore).Scan(&te.nid, &related)
	if err != nil {
		return pos, fmt.Errorf("storage: store event %s: %w", ev.EventID, err)
	}
	p.events[ev.EventID] = te
	if ev.Outbound && !ev.Outlier && !ev.Backfilled {
		if _, err := p.stmt(ctx, p.rs.stmts.insertOutbox).ExecContext(ctx, ev.EventID, pos.Stream); err != nil {
			return pos, fmt.Errorf("storage: outbox %s: %w", ev.EventID, err)
		}
	}
	p.addEdges(te.nid, ev.PrevEventIDs)
	p.notePositioned(ev, pos, stateBefore.Int64, !related)
	return pos, nil
}

// notePositioned keeps ev as the database now holds it, if it has a
// place in the stream (not an outlier, not backfilled); relationFree says
// that no stored relation pointed at it when it was stored.
func (p *persister) notePositioned(ev *storage.NewEvent, pos storage.PersistedPosition, stateBefore int64, relationFree bool) {
	if ev.Outlier || pos.Stream <= 0 {
		return
	}
	var stateKey *string
	if ev.StateKey != nil {
		key := *ev.StateKey
		stateKey = &key
	}
	p.positioned = append(p.positioned, recentEvent{StoredEvent: storage.StoredEvent{
		EventID: ev.EventID, RoomID: p.roomID, Type: ev.Type, StateKey: stateKey, Sender: ev.Sender,
		Depth: ev.Depth, OriginServerTS: ev.OriginServerTS, JSON: ev.JSON, Rejected: ev.Rejected,
		SoftFailed: ev.SoftFailed, StreamPos: pos.Stream, Topo: pos.Topo, StateBefore: stateBefore,
	}, relationFree: relationFree})
}

// insertOutliers inserts new outliers with multi-row statements.
func (p *persister) insertOutliers(ctx context.Context, evs []*storage.NewEvent) error {
	const width = 14
	for len(evs) > 0 {
		n := min(len(evs), maxRowParams/width)
		var b strings.Builder
		b.WriteString(qInsertEventHead + ` VALUES `)
		args := make([]any, 0, n*width)
		for i, ev := range evs[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + p.db.seqParams(i*width+1, width) + ")")
			var key sql.NullInt64
			if ev.StateKey != nil {
				key = sql.NullInt64{Int64: p.keys[*ev.StateKey], Valid: true}
			}
			args = append(args, ev.EventID, p.room, p.types[ev.Type], key, ev.Sender, ev.Depth, ev.OriginServerTS, ev.JSON,
				true, sql.NullString{String: ev.Rejected, Valid: ev.Rejected != ""}, ev.SoftFailed, nil, nil, nil)
		}
		b.WriteString(` RETURNING event_id, event_nid`)
		rows, err := p.tx.QueryContext(ctx, p.db.q(b.String()), args...)
		if err != nil {
			return fmt.Errorf("storage: store outliers: %w", err)
		}
		nids := make(map[string]int64, n)
		for rows.Next() {
			var id string
			var nid int64
			if err := rows.Scan(&id, &nid); err != nil {
				rows.Close()
				return err
			}
			nids[id] = nid
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storage: store outliers: %w", err)
		}
		for _, ev := range evs[:n] {
			nid, ok := nids[ev.EventID]
			if !ok {
				return fmt.Errorf("storage: store outlier %s: no row returned", ev.EventID)
			}
			te := &txEvent{nid: nid, room: p.room, typ: p.types[ev.Type], outlier: true, rejected: ev.Rejected != "", json: ev.JSON}
			if ev.StateKey != nil {
				te.key, te.isState = p.keys[*ev.StateKey], true
			}
			p.events[ev.EventID] = te
			p.addEdges(nid, ev.PrevEventIDs)
		}
		evs = evs[n:]
	}
	return nil
}

// insertEdges stores the prev and auth edges of the new events.
func (p *persister) insertEdges(ctx context.Context) error {
	switch n := len(p.edges) / 3; {
	case n == 0:
		return nil
	case n <= maxPreparedEdges:
		_, err := p.stmt(ctx, p.rs.stmts.insertEdges[n]).ExecContext(ctx, p.edges...)
		return err
	default:
		return p.db.insertRows(ctx, p.tx, qInsertEdgesHead, 3, p.edges, qInsertEdgesTail)
	}
}

// addEdges records the prev_events of event nid (edge kind 0). Its
// auth_events (kind 1) are not recorded: nothing reads them, and at three
// or four rows per event under random keys they were a fifth of persist's
// time in the SQLite group commit (warbler bench profile).
func (p *persister) addEdges(nid int64, refs []string) {
	for i, ref := range refs {
		if ref != "" && !containsBefore(refs, i) {
			p.edges = append(p.edges, ref, 0, nid)
		}
	}
}

// containsBefore reports whether refs[i] occurs earlier in refs (lists of
// prev and auth events are short).
func containsBefore(refs []string, i int) bool {
	for _, r := range refs[:i] {
		if r == refs[i] {
			return true
		}
	}
	return false
}

// takePosition gives a timeline event its stream and topological
// positions, taking the counters on first use.
func (p *persister) takePosition(ctx context.Context, ev *storage.NewEvent) (int64, storage.TopoPos, error) {
	if ev.Backfilled {
		if !p.haveBack {
			// The room's earliest position, before the batch adds any.
			var earliest int64
			err := p.tx.QueryRowContext(ctx, p.db.q(`SELECT topo_depth FROM events
				WHERE room_nid = $1 AND topo_depth IS NOT NULL ORDER BY topo_depth LIMIT 1`), p.room).Scan(&earliest)
			switch {
			case err == nil:
				p.backCeil, p.backCeilSet = earliest-1, true
			case !errors.Is(err, sql.ErrNoRows):
				return 0, storage.TopoPos{}, err
			}
			var low int64
			if err := p.tx.QueryRowContext(ctx, p.db.q(qTakeBackfill), p.nBack).Scan(&low); err != nil {
				return 0, storage.TopoPos{}, fmt.Errorf("storage: take backfill positions: %w", err)
			}
			// The batch comes oldest first, so it counts up from low,
			// below every earlier backfill.
			p.backNext, p.haveBack = low, true
		}
		s := p.backNext
		p.backNext++
		depth := ev.Depth
		if p.backCeilSet && depth > p.backCeil {
			depth = p.backCeil
		}
		return s, storage.TopoPos{Depth: depth, Stream: s}, nil
	}
	if !p.haveStream {
		if err := p.takeStream(ctx); err != nil {
			return 0, storage.TopoPos{}, fmt.Errorf("storage: take stream positions: %w", err)
		}
	}
	s := p.taken[p.streamNext]
	p.streamNext++
	return s, storage.TopoPos{Depth: ev.Depth, Stream: s}, nil
}

// takeStream takes the batch's events stream positions: from the tracker
// on PostgreSQL, from the counter row (a prepared statement) on SQLite.
func (p *persister) takeStream(ctx context.Context) error {
	p.haveStream = true
	if p.db.stream != nil {
		var err error
		p.taken, err = p.db.stream.take(ctx, p.tx, p.nNormal)
		return err
	}
	var last int64
	if err := p.stmt(ctx, p.rs.stmts.takeStream).QueryRowContext(ctx, p.nNormal).Scan(&last); err != nil {
		return err
	}
	for i := range p.nNormal {
		p.taken = append(p.taken, last-int64(p.nNormal-1-i))
	}
	return nil
}

// savedRef is a StateRef this transaction saved, and the snapshot it got.
type savedRef struct {
	ref storage.StateRef
	nid int64
}

// recentRefs is how many saved refs a persist remembers.
const recentRefs = 4

// saveState stores ref as a snapshot of the room (or finds it).
//
// Within a batch the pipeline cannot name the snapshots it has not been
// told yet, so the state before each event is the same base with an ever
// longer list of changes. When ref extends a ref saved earlier in this
// transaction (same base, its changes as a prefix), only the extra changes
// are applied, to that ref's snapshot: the result is the same state, and
// a batch of n state events costs n small deltas rather than n states
// each further from the base.
func (p *persister) saveState(ctx context.Context, ref storage.StateRef) (int64, error) {
	base, changes := ref.Base, ref.Changes
	longest := 0
	for _, r := range p.recent {
		n := len(r.ref.Changes)
		if r.ref.Base == ref.Base && n > longest && n <= len(ref.Changes) && slices.Equal(r.ref.Changes, ref.Changes[:n]) {
			base, changes, longest = r.nid, ref.Changes[n:], n
		}
	}
	entries, err := p.resolveChanges(ctx, changes)
	if err != nil {
		return 0, err
	}
	nid, err := p.st.save(ctx, p.room, base, entries)
	if err != nil {
		return 0, err
	}
	if len(ref.Changes) > 0 {
		p.recent = append([]savedRef{{ref, nid}}, p.recent[:min(len(p.recent), recentRefs-1)]...)
	}
	return nid, nil
}

// resolveChanges turns state changes into entries, one per slot (later
// changes win), checking that each names a usable state event of the room.
func (p *persister) resolveChanges(ctx context.Context, changes []storage.StateEntry) ([]entry, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	var ids []string
	for _, c := range changes {
		if c.EventID != "" {
			ids = append(ids, c.EventID)
		}
	}
	if err := p.loadEvents(ctx, ids); err != nil {
		return nil, err
	}
	index := make(map[stateKey]int, len(changes))
	out := make([]entry, 0, len(changes))
	for _, c := range changes {
		k := stateKey{typ: p.types[c.Type], key: p.keys[c.StateKey]}
		var ev int64
		if c.EventID != "" {
			te := p.events[c.EventID]
			switch {
			case te == nil:
				return nil, fmt.Errorf("storage: state entry (%q, %q) names event %s: %w", c.Type, c.StateKey, c.EventID, storage.ErrNotFound)
			case te.room != p.room:
				return nil, fmt.Errorf("storage: state entry (%q, %q) names event %s of another room", c.Type, c.StateKey, c.EventID)
			case te.rejected:
				return nil, fmt.Errorf("storage: state entry (%q, %q) names rejected event %s", c.Type, c.StateKey, c.EventID)
			case !te.isState || te.typ != k.typ || te.key != k.key:
				return nil, fmt.Errorf("storage: state entry (%q, %q) names event %s, which is not that state event", c.Type, c.StateKey, c.EventID)
			}
			ev = te.nid
		}
		if i, ok := index[k]; ok {
			out[i].event = ev
		} else {
			index[k] = len(out)
			out = append(out, entry{k, ev})
		}
	}
	return out, nil
}

// setForwardExtremities replaces the room's forward extremities.
func (p *persister) setForwardExtremities(ctx context.Context, ids []string) error {
	if err := p.loadEvents(ctx, ids); err != nil {
		return err
	}
	nids := make([]int64, 0, len(ids))
	for _, id := range ids {
		te := p.events[id]
		switch {
		case te == nil:
			return fmt.Errorf("storage: forward extremity %s: %w", id, storage.ErrNotFound)
		case te.room != p.room:
			return fmt.Errorf("storage: forward extremity %s is an event of another room", id)
		case te.outlier || te.rejected:
			return fmt.Errorf("storage: forward extremity %s is an outlier or rejected", id)
		}
		nids = append(nids, te.nid)
	}
	if p.db.dialect.Name == Postgres.Name {
		_, err := p.tx.ExecContext(ctx, qSetExtremities, p.room, int64Array(nids))
		return err
	}
	if _, err := p.stmt(ctx, p.rs.stmts.clearExtrems).ExecContext(ctx, p.room); err != nil {
		return err
	}
	add := p.stmt(ctx, p.rs.stmts.addExtrem)
	for _, nid := range nids {
		if _, err := add.ExecContext(ctx, p.room, nid); err != nil {
			return err
		}
	}
	return nil
}
