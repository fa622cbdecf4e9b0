package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// hotStatements are prepared once at open because they run on nearly every
// request: token lookup authenticates each call, and the user and device
// reads and the last-seen update follow it.
type hotStatements struct {
	lookupAccessToken *sql.Stmt // on the reader
	getUser           *sql.Stmt // on the reader
	getDevice         *sql.Stmt // on the reader
	touchDevice       *sql.Stmt // on the writer
}

func (db *DB) prepareHot(ctx context.Context) error {
	var firstErr error
	prepare := func(p *pool, query string) *sql.Stmt {
		if firstErr != nil {
			return nil
		}
		stmt, err := p.PrepareContext(ctx, db.q(query))
		firstErr = err
		return stmt
	}
	db.hot = hotStatements{
		lookupAccessToken: prepare(db.reader, qLookupAccessToken),
		getUser:           prepare(db.reader, qGetUser),
		getDevice:         prepare(db.reader, qGetDevice),
		touchDevice:       prepare(db.writer, qTouchDevice),
	}
	return firstErr
}

func (h hotStatements) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{h.lookupAccessToken, h.getUser, h.getDevice, h.touchDevice} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}
