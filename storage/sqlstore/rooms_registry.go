package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/warbler-im/warbler/internal/lru"
)

// roomsState is the in-process state of one DB's room store: NID caches,
// decoded state, and the prepared statements of the hot paths (persisting
// a message, reading events and state).
//
// Each DB holds one, made empty at Open; its statements are prepared on
// first use so opening a database for other stores costs nothing extra.
type roomsState struct {
	types     *nidCache // event type strings ↔ type_nid
	stateKeys *nidCache // state key strings ↔ state_key_nid
	roomNIDs  *lru.Cache[string, int64]
	state     *lru.Cache[stateCacheKey, any] // *keyframe and *snapshotMeta

	mu    sync.Mutex // guards stmts while they are prepared
	stmts *roomStmts
}

// Cache bounds. Types are few; state keys are mostly user IDs; decoded
// state is bounded by its number of entries (each costs some 24 bytes, and
// about 150 more once its strings are resolved).
const (
	maxCachedTypes        = 10_000
	maxCachedStateKeys    = 100_000
	maxCachedRooms        = 50_000
	maxCachedStateEntries = 500_000
)

// roomsFor returns db's room-store state, creating it (and preparing its
// statements) on first use. It must not be called inside a write
// transaction: preparing on the SQLite writer needs its one connection.
func (db *DB) roomsFor(ctx context.Context) (*roomsState, error) {
	if err := db.rooms.prepare(ctx, db); err != nil {
		return nil, err
	}
	return db.rooms, nil
}

func newRoomsState() *roomsState {
	return &roomsState{
		types:     newNIDCache(maxCachedTypes),
		stateKeys: newNIDCache(maxCachedStateKeys),
		roomNIDs:  lru.New[string, int64](maxCachedRooms),
		state:     lru.New[stateCacheKey, any](maxCachedStateEntries),
	}
}

// roomNIDOf resolves one room ID to its NID (storage.ErrNotFound if the
// room is unknown).
func (db *DB) roomNIDOf(ctx context.Context, roomID string) (int64, error) {
	rs, err := db.roomsFor(ctx)
	if err != nil {
		return 0, err
	}
	return db.roomNID(ctx, rs, roomID)
}

// closeStatements closes the prepared statements, if any were prepared.
func (rs *roomsState) closeStatements() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.stmts == nil {
		return nil
	}
	s := rs.stmts
	rs.stmts = nil
	all := []*sql.Stmt{s.lockRoom, s.takeStream, s.eventByID, s.insertEvent, s.insertOutbox, s.clearExtrems, s.addExtrem,
		s.snapshotMeta, s.readEvent, s.readSnapshot, s.eventIDByNID}
	all = append(all, s.insertEdges[1:]...)
	var errs []error
	for _, stmt := range all {
		errs = append(errs, stmt.Close())
	}
	return errors.Join(errs...)
}

// DropRoomCaches empties the in-process caches of the room store (NIDs
// and decoded state), so that benchmarks can measure cold reads. The
// database is unaffected.
func (db *DB) DropRoomCaches() {
	rs := db.rooms
	rs.types.purge()
	rs.stateKeys.purge()
	rs.roomNIDs.Purge()
	rs.state.Purge()
}

// roomStmts are the statements run for nearly every event or read.
type roomStmts struct {
	// On the writer, used inside persist transactions.
	lockRoom     *sql.Stmt
	takeStream   *sql.Stmt
	eventByID    *sql.Stmt
	insertEvent  *sql.Stmt
	insertOutbox *sql.Stmt
	clearExtrems *sql.Stmt
	addExtrem    *sql.Stmt
	snapshotMeta *sql.Stmt
	// insertEdges[n] inserts n edges: an event usually has one to a
	// handful of prev and auth events together.
	insertEdges [maxPreparedEdges + 1]*sql.Stmt
	// On the reader.
	readEvent    *sql.Stmt
	readSnapshot *sql.Stmt
	eventIDByNID *sql.Stmt
}

func (rs *roomsState) prepare(ctx context.Context, db *DB) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.stmts != nil {
		return nil
	}
	var prepared []*sql.Stmt
	var firstErr error
	prep := func(p *pool, query string) *sql.Stmt {
		if firstErr != nil {
			return nil
		}
		stmt, err := p.PrepareContext(ctx, db.q(query))
		if err != nil {
			firstErr = err
			return nil
		}
		prepared = append(prepared, stmt)
		return stmt
	}
	s := &roomStmts{
		lockRoom:     prep(db.writer, qLockRoom+forUpdate(db.dialect)),
		takeStream:   prep(db.writer, qTakeStream),
		eventByID:    prep(db.writer, qEventByID),
		insertEvent:  prep(db.writer, qInsertEvent),
		insertOutbox: prep(db.writer, qInsertOutbox),
		clearExtrems: prep(db.writer, qClearExtremities),
		addExtrem:    prep(db.writer, qAddExtremity),
		snapshotMeta: prep(db.writer, qSnapshotMeta),
		readEvent:    prep(db.reader, qSelectEvents+` WHERE e.event_id = $1`),
		readSnapshot: prep(db.reader, qSnapshotMeta),
		eventIDByNID: prep(db.reader, `SELECT event_id FROM events WHERE event_nid = $1`),
	}
	for n := 1; n <= maxPreparedEdges; n++ {
		s.insertEdges[n] = prep(db.writer, edgesInsert(n))
	}
	if firstErr != nil {
		// Leave rs.stmts nil so the next call tries again.
		var errs []error
		for _, stmt := range prepared {
			errs = append(errs, stmt.Close())
		}
		return errors.Join(append([]error{firstErr}, errs...)...)
	}
	rs.stmts = s
	return nil
}
