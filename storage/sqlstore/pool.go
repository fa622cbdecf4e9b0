package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
)

// pool is a connection pool whose queries run as prepared statements,
// prepared on first use and kept: parsing and planning a query again for
// every call was the largest single cost of /sync on SQLite (the driver
// keeps no statement cache). It has *sql.DB's query methods, so code
// written against the pool reads the same.
type pool struct {
	*sql.DB
	stmts sync.Map // rewritten query → *sql.Stmt
	count atomic.Int32
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
