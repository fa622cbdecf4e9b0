package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// The events stream: how positions are handed out, and which are visible.
//
// On SQLite a persist takes its positions from the stream_positions row
// (qTakeStream) inside its transaction; there is one writer, so stream
// order is commit order and the row's committed value is the visible end.
// This process is that writer, so it keeps the value in memory
// (committedStream, raised after each commit): reading the row cost every
// /sync a query, a quarter of its time in warbler bench. A position a
// committed transaction took is never taken again, and a transaction that
// could not take positions before an earlier one committed cannot commit
// below it, so the highest position of the commits seen so far is the
// committed value.
//
// On PostgreSQL that row lock, held to commit, put every commit's flush to
// disk (~3 ms) of every room in one queue: warbler bench stalled at about
// 150 msg/s whatever the rest cost. There positions come from the
// events_stream sequence instead, which locks nothing, and transactions of
// different rooms commit in parallel (PostgreSQL then flushes many commits
// at once). Positions are no longer committed in order, so this process
// tracks the ones it has taken and not yet finished: a reader may read up
// to just below the lowest of them (visible), never past a position that
// may still commit. Writers take positions one at a time (allocMu), and a
// position counts only once registered, so none is taken unseen.
//
// A persist waits, after its commit, until its positions are visible
// before it returns: the notifications it then sends never point past
// what a reader can read.
//
// The tracker knows only this process's writers: several processes
// writing one PostgreSQL database (the scale path's step 3) will need a
// shared record of each writer's position instead.

// qNextStream takes n positions from the sequence, ascending.
const qNextStream = `SELECT nextval('events_stream') FROM generate_series(1, $1) ORDER BY 1`

type streamTracker struct {
	allocMu sync.Mutex // one taker at a time, so positions register in order

	mu       sync.Mutex
	changed  *sync.Cond // broadcast when inflight shrinks
	inflight []int64    // taken, not yet finished; ascending
	// committed is the highest position committed (or stored at open):
	// visible never passes it, so a failed write's positions, gaps that
	// the sequence does not give back, don't move the visible end.
	committed int64
}

func newStreamTracker(committed int64) *streamTracker {
	t := &streamTracker{committed: committed}
	t.changed = sync.NewCond(&t.mu)
	return t
}

// openStreamTracker starts the tracker at the sequence's last value:
// at open nothing of this process is in flight.
func openStreamTracker(ctx context.Context, db *pool) (*streamTracker, error) {
	var last int64
	var called bool
	if err := db.QueryRowContext(ctx, `SELECT last_value, is_called FROM events_stream`).Scan(&last, &called); err != nil {
		return nil, fmt.Errorf("read the events stream sequence: %w", err)
	}
	if !called {
		last--
	}
	return newStreamTracker(last), nil
}

// take hands out n positions from the sequence, in tx's statement.
func (t *streamTracker) take(ctx context.Context, q queryer, n int) ([]int64, error) {
	t.allocMu.Lock()
	defer t.allocMu.Unlock()
	rows, err := q.QueryContext(ctx, qNextStream, n)
	if err != nil {
		return nil, err
	}
	ps := make([]int64, 0, n)
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		ps = append(ps, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ps) != n {
		return nil, fmt.Errorf("took %d stream positions, wanted %d", len(ps), n)
	}
	// Taken positions the statement reported are never missed: a failed
	// one is a gap, which readers skip over unharmed.
	t.mu.Lock()
	t.inflight = append(t.inflight, ps...)
	t.mu.Unlock()
	return ps, nil
}

// finish ends positions taken by a transaction that has committed (or
// rolled back: they are then gaps). After a commit it waits until they
// are visible, i.e. every position taken before them has finished too.
func (t *streamTracker) finish(ps []int64, committed bool) {
	if len(ps) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inflight = slices.DeleteFunc(t.inflight, func(p int64) bool { return slices.Contains(ps, p) })
	t.changed.Broadcast()
	if !committed {
		return
	}
	last := slices.Max(ps)
	t.committed = max(t.committed, last)
	for t.visibleLocked() < last {
		t.changed.Wait()
	}
}

// visible is the highest position up to which every position is
// finished: what readers may read up to.
func (t *streamTracker) visible() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.visibleLocked()
}

func (t *streamTracker) visibleLocked() int64 {
	if len(t.inflight) > 0 {
		return min(t.inflight[0]-1, t.committed)
	}
	return t.committed
}

// queryer is the part of *sql.Tx and *sql.DB that reads use.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// takeStream hands out n events stream positions, ascending, for tx.
// The caller passes them to finishStream once tx is over.
func (db *DB) takeStream(ctx context.Context, tx *sql.Tx, n int) ([]int64, error) {
	if db.stream != nil {
		return db.stream.take(ctx, tx, n)
	}
	var last int64
	if err := tx.QueryRowContext(ctx, db.q(qTakeStream), n).Scan(&last); err != nil {
		return nil, err
	}
	ps := make([]int64, n)
	for i := range ps {
		ps[i] = last - int64(n-1-i)
	}
	return ps, nil
}

// finishStream ends positions takeStream handed out (see
// streamTracker.finish). On SQLite it moves the committed end past them
// if their transaction committed.
func (db *DB) finishStream(ps []int64, committed bool) {
	if db.stream != nil {
		db.stream.finish(ps, committed)
		return
	}
	if committed && len(ps) > 0 {
		advanceTo(&db.committedStream, ps[len(ps)-1])
	}
}

// advanceTo raises v to pos unless it is there already.
func advanceTo(v *atomic.Int64, pos int64) {
	for {
		cur := v.Load()
		if cur >= pos || v.CompareAndSwap(cur, pos) {
			return
		}
	}
}

// writeAtStreamPosition runs write in a transaction that takes one events
// stream position for it, so a reader that sees the position also sees
// the write, and ends the position when the transaction is over.
func (db *DB) writeAtStreamPosition(ctx context.Context, write func(tx *sql.Tx, pos int64) error) (int64, error) {
	var pos int64
	var taken []int64
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		if taken, err = db.takeStream(ctx, tx, 1); err != nil {
			return err
		}
		pos = taken[0]
		return write(tx, pos)
	})
	db.finishStream(taken, err == nil)
	return pos, err
}

// visibleStream is the highest events stream position readers may read
// up to; in a transaction (tx non-nil) on SQLite, the one tx sees.
func (db *DB) visibleStream(ctx context.Context, q queryRower) (int64, error) {
	if db.stream != nil {
		return db.stream.visible(), nil
	}
	var pos int64
	if err := q.QueryRowContext(ctx, db.q(qMaxStream)).Scan(&pos); err != nil {
		return 0, fmt.Errorf("storage: read stream position: %w", err)
	}
	return pos, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
