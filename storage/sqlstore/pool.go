package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a connection pool whose queries run as prepared statements,
// prepared on first use and kept: parsing and planning a query again for
// every call was the largest single cost of /sync on SQLite (the driver
// keeps no statement cache). It has *sql.DB's query methods, so code
// written against the pool reads the same.
type pool struct {
	*sql.DB
	stmts   sync.Map // rewritten query → *sql.Stmt
	count   atomic.Int32
	warming sync.Map // queries whose preparation was started (see warm)
}

// Bounds of the statement cache. Queries with many placeholders are
// built for a list of a given length (IN ($1, …, $n)); caching each
// length would fill the cache with near twins, so they run unprepared.
const (
	maxCachedStatements  = 512
	maxCachedPlaceholder = 16
)

func newPool(db *sql.DB) *pool { return &pool{DB: db} }

// stmt returns the cached statement for query, preparing it if there is
// room; nil means: run the query unprepared.
func (p *pool) stmt(ctx context.Context, query string) *sql.Stmt {
	if s, ok := p.stmts.Load(query); ok {
		return s.(*sql.Stmt)
	}
	if p.count.Load() >= maxCachedStatements || countPlaceholders(query) > maxCachedPlaceholder {
		return nil
	}
	s, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared query reports the error, if it is one
	}
	if prev, loaded := p.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt)
	}
	p.count.Add(1)
	return s
}

func countPlaceholders(query string) int {
	return strings.Count(query, "$") + strings.Count(query, "?")
}

// QueryContext runs query as a cached prepared statement.
func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := p.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query as a cached prepared statement.
func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := p.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// ExecContext runs query as a cached prepared statement.
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := p.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, query, args...)
}

// closeStatements closes the cached statements; the pool stays open.
func (p *pool) closeStatements() error {
	var first error
	p.stmts.Range(func(key, s any) bool {
		if err := s.(*sql.Stmt).Close(); err != nil && first == nil {
			first = err
		}
		p.stmts.Delete(key)
		return true
	})
	p.count.Store(0)
	return first
}

// cachedTx is a transaction whose queries run as the pool's cached
// prepared statements, bound to the transaction. On PostgreSQL an
// unprepared query with arguments costs two round trips (parse, then
// bind and execute), a prepared one one: the persist path's search-index
// insert and stream-position query were two each per message.
//
// A statement not cached yet runs unprepared, and is prepared on the
// pool in the background: preparing it here would wait for a second
// connection while holding one, which on SQLite's single writer
// connection (or a PostgreSQL pool full of transactions) never comes.
// On SQLite (pool nil) every query runs as given: it has no round trips.
type cachedTx struct {
	*sql.Tx
	pool  *pool
	bound map[*sql.Stmt]*sql.Stmt
}

func (db *DB) newCachedTx(tx *sql.Tx) *cachedTx {
	t := &cachedTx{Tx: tx, bound: map[*sql.Stmt]*sql.Stmt{}}
	if db.dialect.Name == Postgres.Name {
		t.pool = db.writer
	}
	return t
}

// cached returns query's statement bound to the transaction, or nil.
func (t *cachedTx) cached(ctx context.Context, query string) *sql.Stmt {
	if t.pool == nil {
		return nil
	}
	v, ok := t.pool.stmts.Load(query)
	if !ok {
		t.pool.warm(query)
		return nil
	}
	s := v.(*sql.Stmt)
	if ts, ok := t.bound[s]; ok {
		return ts
	}
	ts := t.Tx.StmtContext(ctx, s)
	t.bound[s] = ts
	return ts
}

// warm prepares query on the pool in the background, once.
func (p *pool) warm(query string) {
	if _, busy := p.warming.LoadOrStore(query, true); busy {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), warmTimeout)
		defer cancel()
		p.stmt(ctx, query)
	}()
}

// warmTimeout bounds a background preparation.
const warmTimeout = 30 * time.Second

// ExecContext runs query as a cached prepared statement where it can.
func (t *cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.cached(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query as a cached prepared statement where it can.
func (t *cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.cached(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query as a cached prepared statement where it can.
func (t *cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.cached(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}
