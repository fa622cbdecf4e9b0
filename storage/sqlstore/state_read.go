package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/warbler-im/warbler/storage"
)

// The read side of room state: snapshots as strings for callers, single
// slots, the current state, and the size of it all. Decoded keyframes keep
// their string form once built, so a snapshot read that hits the cache
// costs one merge of the keyframe with a short delta and no query.

func compareStateEntries(a, b storage.StateEntry) int {
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return cmp.Compare(a.StateKey, b.StateKey)
}

// readAccess returns a stateAccess for reads outside transactions.
func (db *DB) readAccess(ctx context.Context) (*stateAccess, error) {
	rs, err := db.roomsFor(ctx)
	if err != nil {
		return nil, err
	}
	return &stateAccess{db: db, rs: rs, q: db.reader}, nil
}

// resolveStrings turns entries into StateEntries sorted by type and state
// key; event 0 becomes EventID "". Types and state keys come through
// their caches; event IDs from one indexed query per chunk.
func (a *stateAccess) resolveStrings(ctx context.Context, es []entry) ([]storage.StateEntry, error) {
	typeNIDs := make([]int64, 0, 8)
	keyNIDs := make([]int64, 0, len(es))
	eventNIDs := make([]int64, 0, len(es))
	for _, e := range es {
		if len(typeNIDs) == 0 || typeNIDs[len(typeNIDs)-1] != e.typ {
			typeNIDs = append(typeNIDs, e.typ)
		}
		keyNIDs = append(keyNIDs, e.key)
		if e.event != 0 {
			eventNIDs = append(eventNIDs, e.event)
		}
	}
	types, err := a.db.lookupNames(ctx, a.q, a.rs.types, typesTable, typeNIDs, nil)
	if err != nil {
		return nil, err
	}
	keys, err := a.db.lookupNames(ctx, a.q, a.rs.stateKeys, stateKeysTable, keyNIDs, nil)
	if err != nil {
		return nil, err
	}
	events, err := a.db.eventIDs(ctx, a.q, eventNIDs)
	if err != nil {
		return nil, err
	}
	out := make([]storage.StateEntry, len(es))
	for i, e := range es {
		out[i] = storage.StateEntry{Type: types[e.typ], StateKey: keys[e.key], EventID: events[e.event]}
	}
	slices.SortFunc(out, compareStateEntries)
	return out, nil
}

// eventIDs maps event NIDs to event IDs; every NID must exist.
func (db *DB) eventIDs(ctx context.Context, q querier, nids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(nids))
	err := forChunks(nids, func(chunk []int64) error {
		cond, args := db.inInt64s("event_nid", 1, chunk)
		rows, err := q.QueryContext(ctx, db.q(`SELECT event_nid, event_id FROM events WHERE `+cond), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var nid int64
			var id string
			if err := rows.Scan(&nid, &id); err != nil {
				return err
			}
			out[nid] = id
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for _, nid := range nids {
		if _, ok := out[nid]; !ok {
			return nil, fmt.Errorf("storage: state names event %d, which is not stored", nid)
		}
	}
	return out, nil
}

// keyframeStrings returns (building once) a keyframe's string form.
func (a *stateAccess) keyframeStrings(ctx context.Context, kf *keyframe) ([]storage.StateEntry, error) {
	kf.mu.Lock()
	defer kf.mu.Unlock()
	if kf.strs == nil {
		strs, err := a.resolveStrings(ctx, kf.entries)
		if err != nil {
			return nil, err
		}
		kf.strs = strs
	}
	return kf.strs, nil
}

// deltaStrings returns (building once) a snapshot delta's string form.
func (a *stateAccess) deltaStrings(ctx context.Context, m *snapshotMeta) ([]storage.StateEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.strs == nil {
		strs, err := a.resolveStrings(ctx, m.delta)
		if err != nil {
			return nil, err
		}
		m.strs = strs
	}
	return m.strs, nil
}

// snapshotStrings returns a new slice with a snapshot's entries.
func (a *stateAccess) snapshotStrings(ctx context.Context, nid int64) ([]storage.StateEntry, error) {
	m, err := a.snapshot(ctx, nid)
	if err != nil {
		return nil, err
	}
	kf, err := a.keyframe(ctx, m.keyframe)
	if err != nil {
		return nil, err
	}
	base, err := a.keyframeStrings(ctx, kf)
	if err != nil {
		return nil, err
	}
	delta, err := a.deltaStrings(ctx, m)
	if err != nil {
		return nil, err
	}
	if len(delta) == 0 {
		return slices.Clone(base), nil
	}
	out := make([]storage.StateEntry, 0, len(base)+len(delta))
	i, j := 0, 0
	for i < len(base) || j < len(delta) {
		var c int
		switch {
		case j == len(delta):
			c = -1
		case i == len(base):
			c = 1
		default:
			c = compareStateEntries(base[i], delta[j])
		}
		switch {
		case c < 0:
			out = append(out, base[i])
			i++
		case c > 0:
			if delta[j].EventID != "" {
				out = append(out, delta[j])
			}
			j++
		default:
			if delta[j].EventID != "" {
				out = append(out, delta[j])
			}
			i++
			j++
		}
	}
	return out, nil
}

// StateSnapshot implements storage.RoomStore.
func (db *DB) StateSnapshot(ctx context.Context, snapshot int64) ([]storage.StateEntry, error) {
	a, err := db.readAccess(ctx)
	if err != nil {
		return nil, err
	}
	return a.snapshotStrings(ctx, snapshot)
}

// StateEvent implements storage.RoomStore. Auth checks call it for a few
// slots per event, so when the snapshot's keyframe is cached with its
// strings it answers from memory; otherwise from the numeric state and
// one query for the event ID.
func (db *DB) StateEvent(ctx context.Context, snapshot int64, typ, key string) (string, error) {
	a, err := db.readAccess(ctx)
	if err != nil {
		return "", err
	}
	// Load the snapshot first, so an unknown snapshot is reported even
	// when the type or state key is unknown too.
	m, err := a.snapshot(ctx, snapshot)
	if err != nil {
		return "", err
	}
	kf, err := a.keyframe(ctx, m.keyframe)
	if err != nil {
		return "", err
	}
	if id, known, err := a.lookupInStrings(ctx, m, kf, typ, key); err != nil || known {
		if err == nil && id == "" {
			err = storage.ErrNotFound
		}
		return id, err
	}
	types, err := db.lookupNIDs(ctx, db.reader, a.rs.types, typesTable, []string{typ}, nil)
	if err != nil {
		return "", err
	}
	keys, err := db.lookupNIDs(ctx, db.reader, a.rs.stateKeys, stateKeysTable, []string{key}, nil)
	if err != nil {
		return "", err
	}
	typeNID, ok1 := types[typ]
	keyNID, ok2 := keys[key]
	if !ok1 || !ok2 {
		return "", storage.ErrNotFound
	}
	ev, err := a.lookup(ctx, snapshot, stateKey{typ: typeNID, key: keyNID})
	if err != nil {
		return "", err
	}
	if ev == 0 {
		return "", storage.ErrNotFound
	}
	var id string
	err = a.rs.stmts.eventIDByNID.QueryRowContext(ctx, ev).Scan(&id)
	return id, err
}

// lookupInStrings answers a slot lookup from the string forms of a
// snapshot, if its keyframe's is already built (known false otherwise).
// id "" with known set means the slot is empty.
func (a *stateAccess) lookupInStrings(ctx context.Context, m *snapshotMeta, kf *keyframe, typ, key string) (id string, known bool, err error) {
	kf.mu.Lock()
	base := kf.strs
	kf.mu.Unlock()
	if base == nil && len(kf.entries) > 0 {
		return "", false, nil
	}
	want := storage.StateEntry{Type: typ, StateKey: key}
	if len(m.delta) > 0 {
		delta, err := a.deltaStrings(ctx, m)
		if err != nil {
			return "", false, err
		}
		if i, ok := slices.BinarySearchFunc(delta, want, compareStateEntries); ok {
			return delta[i].EventID, true, nil
		}
	}
	if i, ok := slices.BinarySearchFunc(base, want, compareStateEntries); ok {
		return base[i].EventID, true, nil
	}
	return "", true, nil
}

// CurrentState implements storage.RoomStore.
func (db *DB) CurrentState(ctx context.Context, roomID string) ([]storage.StateEntry, error) {
	a, err := db.readAccess(ctx)
	if err != nil {
		return nil, err
	}
	var snapshot int64
	err = db.reader.QueryRowContext(ctx, db.q(`SELECT current_snapshot FROM rooms WHERE room_id = $1`), roomID).Scan(&snapshot)
	if err != nil {
		return nil, notFound(err)
	}
	return a.snapshotStrings(ctx, snapshot)
}

const qCurrentStateEvent = `SELECT e.event_id FROM current_state cs
	JOIN events e ON e.event_nid = cs.event_nid
	WHERE cs.room_nid = (SELECT room_nid FROM rooms WHERE room_id = $1)
	AND cs.type_nid = (SELECT type_nid FROM event_types WHERE type = $2)
	AND cs.state_key_nid = (SELECT state_key_nid FROM state_keys WHERE state_key = $3)`

// CurrentStateEvent implements storage.RoomStore.
func (db *DB) CurrentStateEvent(ctx context.Context, roomID, typ, stateKey string) (string, error) {
	var id string
	err := db.reader.QueryRowContext(ctx, db.q(qCurrentStateEvent), roomID, typ, stateKey).Scan(&id)
	return id, notFound(err)
}

const qStateStats = `SELECT
	(SELECT COUNT(*) FROM state_snapshots),
	(SELECT COUNT(*) FROM state_keyframes),
	(SELECT COUNT(*) FROM state_blocks),
	(SELECT COALESCE(SUM(entry_count), 0) FROM state_blocks),
	(SELECT COALESCE(SUM(block_count), 0) FROM state_keyframes),
	(SELECT COALESCE(SUM(delta_count), 0) FROM state_snapshots),
	(SELECT COALESCE(SUM(LENGTH(entries)), 0) FROM state_blocks)
		+ (SELECT COALESCE(SUM(LENGTH(block_nids)), 0) FROM state_keyframes)
		+ (SELECT COALESCE(SUM(LENGTH(delta)), 0) FROM state_snapshots)`

// StateStats implements storage.RoomStore.
func (db *DB) StateStats(ctx context.Context) (storage.StateStats, error) {
	var s storage.StateStats
	err := db.reader.QueryRowContext(ctx, qStateStats).Scan(
		&s.Snapshots, &s.Keyframes, &s.Blocks, &s.BlockEntries, &s.BlockRefs, &s.DeltaEntries, &s.Bytes)
	return s, err
}
