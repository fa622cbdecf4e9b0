package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/warbler-im/warbler/storage"
)

// How room state is stored (the schema is in the 0002_rooms migrations):
// a snapshot is a keyframe (a full state, as a list of shared,
// content-addressed blocks) plus a delta of at most deltaLimit entries
// changed since that keyframe. A new state that would need a
// bigger delta gets a new keyframe instead, which reuses every block of
// the old keyframe its changes did not touch. So each state change costs
// about one block and one delta on disk, whatever the size of the room.

// deltaLimit is the longest delta a snapshot on keyframe kf may carry;
// a state further from kf gets a new keyframe instead. Each snapshot
// stores its whole delta, so a limit of L costs about L/2 entries per
// change, while a keyframe costs the blocks its changes touched (paid
// for by the changes anyway) plus one reference per block of the state,
// shared by the L changes before it. Half the delta against the
// references over L is least at L = √(2 × blocks): at least 16 (reached
// at about 4,000 state entries), rising with the room, and never above 64
// (reached at about 65,000), which bounds the work of reading a snapshot.
// testStateDiskBound measures the result.
func deltaLimit(kf *keyframe) int {
	const lowest, highest = 16, 64
	limit := int(math.Sqrt(float64(2 * len(kf.blocks))))
	return min(max(limit, lowest), highest)
}

// stateCacheKey names a decoded keyframe or snapshot in the state cache.
type stateCacheKey struct {
	kind byte // hashKeyframe or hashSnapshot
	nid  int64
}

// keyframe is a decoded full state with the blocks it is made of.
// Values in the cache are shared and must not be modified, except for the
// strings, which are filled once under mu.
type keyframe struct {
	nid     int64
	entries []entry // sorted
	blocks  []blockRef

	mu   sync.Mutex
	strs []storage.StateEntry // entries as strings, sorted by type and state key; nil until needed
}

type blockRef struct {
	nid  int64
	hash string // content hash, as a map key
}

// snapshotMeta is a decoded snapshot: its keyframe and its delta.
type snapshotMeta struct {
	nid      int64
	room     int64
	keyframe int64
	delta    []entry // sorted; event 0 = removed from the keyframe

	mu   sync.Mutex
	strs []storage.StateEntry // delta as strings, sorted; EventID "" = removed
}

var emptyKeyframe = &keyframe{}

// stateAccess loads snapshots and keyframes through the cache, then q. In
// a write transaction, local holds what the transaction created: it is
// read first, and moved to the cache only after commit.
type stateAccess struct {
	db    *DB
	rs    *roomsState
	q     querier
	local map[stateCacheKey]any
}

func (a *stateAccess) cached(key stateCacheKey) (any, bool) {
	if v, ok := a.local[key]; ok {
		return v, true
	}
	return a.rs.state.Get(key)
}

// snapshot loads a snapshot's keyframe NID and delta; ErrNotFound if it
// does not exist.
func (a *stateAccess) snapshot(ctx context.Context, nid int64) (*snapshotMeta, error) {
	if nid == 0 {
		return &snapshotMeta{}, nil
	}
	key := stateCacheKey{hashSnapshot, nid}
	if v, ok := a.cached(key); ok {
		return v.(*snapshotMeta), nil
	}
	var deltaCount int
	var delta []byte
	m := &snapshotMeta{nid: nid}
	var row *sql.Row
	if tx, ok := a.q.(*sql.Tx); ok {
		row = tx.StmtContext(ctx, a.rs.stmts.snapshotMeta).QueryRowContext(ctx, nid)
	} else {
		row = a.rs.stmts.readSnapshot.QueryRowContext(ctx, nid)
	}
	if err := row.Scan(&m.room, &m.keyframe, &deltaCount, &delta); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("storage: state snapshot %d: %w", nid, storage.ErrNotFound)
		}
		return nil, err
	}
	var err error
	if m.delta, err = decodeEntries(delta, deltaCount); err != nil {
		return nil, fmt.Errorf("storage: state snapshot %d: %w", nid, err)
	}
	a.rs.state.Add(key, m, len(m.delta)+1)
	return m, nil
}

// keyframe loads a keyframe and all its blocks.
func (a *stateAccess) keyframe(ctx context.Context, nid int64) (*keyframe, error) {
	if nid == 0 {
		return emptyKeyframe, nil
	}
	key := stateCacheKey{hashKeyframe, nid}
	if v, ok := a.cached(key); ok {
		return v.(*keyframe), nil
	}
	var blockCount, entryCount int
	var list []byte
	err := a.q.QueryRowContext(ctx, a.db.q(`SELECT block_count, entry_count, block_nids FROM state_keyframes WHERE keyframe_nid = $1`), nid).
		Scan(&blockCount, &entryCount, &list)
	if err != nil {
		return nil, fmt.Errorf("storage: state keyframe %d: %w", nid, err)
	}
	nids, err := decodeNIDs(list, blockCount)
	if err != nil {
		return nil, fmt.Errorf("storage: state keyframe %d: %w", nid, err)
	}
	type block struct {
		hash    []byte
		entries []entry
	}
	blocks := make(map[int64]block, len(nids))
	err = forChunks(nids, func(chunk []int64) error {
		cond, args := a.db.inInt64s("block_nid", 1, chunk)
		rows, err := a.q.QueryContext(ctx, a.db.q(`SELECT block_nid, content_hash, entry_count, entries FROM state_blocks WHERE `+cond), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var bnid int64
			var count int
			var b block
			var enc []byte
			if err := rows.Scan(&bnid, &b.hash, &count, &enc); err != nil {
				return err
			}
			if b.entries, err = decodeEntries(enc, count); err != nil {
				return err
			}
			blocks[bnid] = b
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("storage: state keyframe %d: %w", nid, err)
	}
	kf := &keyframe{nid: nid, entries: make([]entry, 0, entryCount), blocks: make([]blockRef, len(nids))}
	for i, bnid := range nids {
		b, ok := blocks[bnid]
		if !ok {
			return nil, fmt.Errorf("storage: state keyframe %d: block %d missing", nid, bnid)
		}
		if len(kf.entries) > 0 && len(b.entries) > 0 && b.entries[0].compare(kf.entries[len(kf.entries)-1].stateKey) <= 0 {
			return nil, fmt.Errorf("storage: state keyframe %d: %w", nid, errCorruptState)
		}
		kf.entries = append(kf.entries, b.entries...)
		kf.blocks[i] = blockRef{nid: bnid, hash: string(b.hash)}
	}
	a.rs.state.Add(key, kf, len(kf.entries)+1)
	return kf, nil
}

// fullState returns the sorted entries of a snapshot.
func (a *stateAccess) fullState(ctx context.Context, nid int64) ([]entry, error) {
	m, err := a.snapshot(ctx, nid)
	if err != nil {
		return nil, err
	}
	kf, err := a.keyframe(ctx, m.keyframe)
	if err != nil {
		return nil, err
	}
	if len(m.delta) == 0 {
		return kf.entries, nil
	}
	return mergeDelta(kf.entries, m.delta), nil
}

// lookup returns the event NID holding k in a snapshot, 0 if none.
func (a *stateAccess) lookup(ctx context.Context, nid int64, k stateKey) (int64, error) {
	m, err := a.snapshot(ctx, nid)
	if err != nil {
		return 0, err
	}
	if ev, ok := findEntry(m.delta, k); ok {
		return ev, nil
	}
	kf, err := a.keyframe(ctx, m.keyframe)
	if err != nil {
		return 0, err
	}
	ev, _ := findEntry(kf.entries, k)
	return ev, nil
}

// stateWriter saves snapshots inside a write transaction.
type stateWriter struct {
	stateAccess
	tx *sql.Tx
}

func newStateWriter(db *DB, rs *roomsState, tx *sql.Tx) *stateWriter {
	return &stateWriter{stateAccess: stateAccess{db: db, rs: rs, q: tx, local: map[stateCacheKey]any{}}, tx: tx}
}

// commitCache moves what the committed transaction created to the cache.
func (w *stateWriter) commitCache() {
	for key, v := range w.local {
		switch v := v.(type) {
		case *keyframe:
			w.rs.state.Add(key, v, len(v.entries)+1)
		case *snapshotMeta:
			w.rs.state.Add(key, v, len(v.delta)+1)
		}
	}
}

// save stores (or finds) the snapshot of base with changes applied and
// returns its NID. changes hold one entry per slot, event 0 to remove it.
func (w *stateWriter) save(ctx context.Context, room, baseNID int64, changes []entry) (int64, error) {
	base, err := w.snapshot(ctx, baseNID)
	if err != nil {
		return 0, err
	}
	if baseNID != 0 && base.room != room {
		return 0, fmt.Errorf("storage: state snapshot %d belongs to another room", baseNID)
	}
	if len(changes) == 0 {
		return baseNID, nil
	}
	kf, err := w.keyframe(ctx, base.keyframe)
	if err != nil {
		return 0, err
	}
	// The new delta against the same keyframe: the base's, overlaid with
	// the changes, less what now equals the keyframe again.
	slots := make(map[stateKey]int64, len(base.delta)+len(changes))
	for _, e := range base.delta {
		slots[e.stateKey] = e.event
	}
	for _, e := range changes {
		slots[e.stateKey] = e.event
	}
	delta := make([]entry, 0, len(slots))
	size := len(kf.entries) // of the new state
	for k, ev := range slots {
		kev, inKF := findEntry(kf.entries, k)
		if kev == ev {
			continue
		}
		delta = append(delta, entry{k, ev})
		switch {
		case ev == 0:
			size--
		case !inKF:
			size++
		}
	}
	if size == 0 {
		// The empty state is always snapshot 0; a stored empty keyframe
		// would also hash the same in every room.
		return 0, nil
	}
	slices.SortFunc(delta, compareEntries)
	if len(delta) <= deltaLimit(kf) {
		return w.putSnapshot(ctx, room, kf.nid, delta)
	}
	next, err := w.putKeyframe(ctx, room, kf, mergeDelta(kf.entries, delta))
	if err != nil {
		return 0, err
	}
	return w.putSnapshot(ctx, room, next.nid, nil)
}

// putSnapshot stores (or finds) the snapshot (keyframe, delta).
func (w *stateWriter) putSnapshot(ctx context.Context, room, kfNID int64, delta []entry) (int64, error) {
	if kfNID == 0 && len(delta) == 0 {
		return 0, nil // the empty state
	}
	enc := encodeEntries(delta)
	hash := contentHash(hashSnapshot, binary.AppendVarint(nil, kfNID), enc)
	nid, err := w.insertOrFind(ctx,
		`INSERT INTO state_snapshots (room_nid, keyframe_nid, content_hash, delta_count, delta) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING RETURNING snapshot_nid`,
		`SELECT snapshot_nid FROM state_snapshots WHERE content_hash = $1`,
		[]any{room, kfNID, hash, len(delta), enc}, hash)
	if err != nil {
		return 0, fmt.Errorf("storage: save state snapshot: %w", err)
	}
	key := stateCacheKey{hashSnapshot, nid}
	if _, ok := w.cached(key); !ok {
		w.local[key] = &snapshotMeta{nid: nid, room: room, keyframe: kfNID, delta: delta}
	}
	return nid, nil
}

// putKeyframe stores (or finds) a keyframe for the sorted full state,
// reusing the blocks of prev, and of any other keyframe, whose content
// it shares.
func (w *stateWriter) putKeyframe(ctx context.Context, room int64, prev *keyframe, full []entry) (*keyframe, error) {
	known := make(map[string]int64, len(prev.blocks))
	for _, b := range prev.blocks {
		known[b.hash] = b.nid
	}
	chunks := chunkEntries(full)
	kf := &keyframe{entries: full, blocks: make([]blockRef, len(chunks))}
	nids := make([]int64, len(chunks))
	for i, chunk := range chunks {
		enc := encodeEntries(chunk)
		hash := contentHash(hashBlock, enc)
		nid, ok := known[string(hash)]
		if !ok {
			var err error
			nid, err = w.insertOrFind(ctx,
				`INSERT INTO state_blocks (content_hash, entry_count, entries) VALUES ($1, $2, $3)
					ON CONFLICT DO NOTHING RETURNING block_nid`,
				`SELECT block_nid FROM state_blocks WHERE content_hash = $1`,
				[]any{hash, len(chunk), enc}, hash)
			if err != nil {
				return nil, fmt.Errorf("storage: save state block: %w", err)
			}
			known[string(hash)] = nid
		}
		nids[i] = nid
		kf.blocks[i] = blockRef{nid: nid, hash: string(hash)}
	}
	list := encodeNIDs(nids)
	hash := contentHash(hashKeyframe, list)
	nid, err := w.insertOrFind(ctx,
		`INSERT INTO state_keyframes (room_nid, content_hash, block_count, entry_count, block_nids) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING RETURNING keyframe_nid`,
		`SELECT keyframe_nid FROM state_keyframes WHERE content_hash = $1`,
		[]any{room, hash, len(nids), len(full), list}, hash)
	if err != nil {
		return nil, fmt.Errorf("storage: save state keyframe: %w", err)
	}
	kf.nid = nid
	key := stateCacheKey{hashKeyframe, nid}
	if v, ok := w.cached(key); ok {
		return v.(*keyframe), nil
	}
	w.local[key] = kf
	return kf, nil
}

// insertOrFind inserts a content-addressed row, or finds the one with the
// same content hash, and returns its NID.
func (w *stateWriter) insertOrFind(ctx context.Context, insert, find string, args []any, hash []byte) (int64, error) {
	var nid int64
	err := w.tx.QueryRowContext(ctx, w.db.q(insert), args...).Scan(&nid)
	if errors.Is(err, sql.ErrNoRows) {
		err = w.tx.QueryRowContext(ctx, w.db.q(find), hash).Scan(&nid)
	}
	return nid, err
}
