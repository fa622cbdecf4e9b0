package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/warbler-im/warbler/storage"
)

// Config is what an engine package hands to Open.
type Config struct {
	Dialect Dialect
	// Writer runs every write. For SQLite it must be limited to one
	// connection (SetMaxOpenConns(1)).
	Writer *sql.DB
	// Reader runs reads outside transactions. It may be the same pool as
	// Writer; if not, it must see what Writer has committed.
	Reader *sql.DB
	// Migrations holds the engine's schema as NNNN_name.sql files at its
	// root, applied in numeric order.
	Migrations fs.FS
}

// DB implements storage.Database on top of database/sql.
type DB struct {
	dialect Dialect
	writer  *pool
	reader  *pool
	hot     hotStatements
	rooms   *roomsState // room store caches and statements
	events  eventCache  // events by ID (event_cache.go)
	// recent holds the rooms' newest events for /sync (recent.go); set
	// at open, after the stream position it starts from is known.
	recent *recentEvents
	users  *userCaches // small per-user data every sync reads (user_cache.go)
	// tokens caches access-token lookups, by token hash (tokens.go).
	tokens *userCache[string, storage.AccessToken]
	// group runs the room writes (the hot, concurrent ones) with group
	// commit on SQLite; nil on PostgreSQL. See roomWriteTx.
	group *groupCommitter
	// stream tracks the events stream positions in flight on
	// PostgreSQL; nil on SQLite. See stream.go.
	stream *streamTracker
	// committedStream is, on SQLite, the highest events stream position
	// committed, as this process saw its own commits (stream.go).
	committedStream atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

var _ storage.Database = (*DB)(nil)

// Open migrates the schema to the newest version and prepares the hot
// statements. It takes ownership of both pools: they are closed if Open
// fails, and by DB.Close otherwise.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	db := &DB{dialect: cfg.Dialect, writer: newPool(cfg.Writer), rooms: newRoomsState(), events: newEventCache(), users: newUserCaches(),
		tokens: newUserCache[string, storage.AccessToken](tokenCacheBytes)}
	db.reader = db.writer
	if cfg.Reader != cfg.Writer {
		db.reader = newPool(cfg.Reader)
	}
	if cfg.Dialect.Name == SQLite.Name {
		// SQLite has one writer connection: grouping its transactions
		// only shares fsyncs. PostgreSQL commits in parallel on many
		// connections, and funnelling them through one committer was
		// slower there (see groupcommit.go).
		db.group = newGroupCommitter(db.writer)
	}
	if err := db.open(ctx, cfg.Migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: open %s database: %w", cfg.Dialect.Name, err)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context, migrations fs.FS) error {
	if err := db.writer.PingContext(ctx); err != nil {
		return err
	}
	if err := migrate(ctx, db.writer.DB, db.dialect, migrations); err != nil {
		return err
	}
	if db.dialect.Name == Postgres.Name {
		var err error
		if db.stream, err = openStreamTracker(ctx, db.writer); err != nil {
			return err
		}
	}
	end, err := db.visibleStream(ctx, db.reader)
	if err != nil {
		return err
	}
	db.committedStream.Store(end)
	db.recent = newRecentEvents(end, db.stream != nil)
	return db.prepareHot(ctx)
}

// Ping checks that both handles answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.writer.PingContext(ctx); err != nil {
		return err
	}
	return db.reader.PingContext(ctx)
}

// Close closes the prepared statements and the pools, once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.group != nil {
			db.group.close()
		}
		errs := []error{db.hot.close(), db.rooms.closeStatements(), db.writer.closeStatements(), db.writer.Close()}
		if db.reader != db.writer {
			errs = append(errs, db.reader.closeStatements(), db.reader.Close())
		}
		db.closeErr = errors.Join(errs...)
	})
	return db.closeErr
}

// q rewrites a query written with $N placeholders for this dialect.
func (db *DB) q(query string) string { return db.dialect.Rebind(query) }

// writeTx runs fn in a transaction on the writer and commits if fn returns
// nil. A transaction that is not committed is rolled back.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once committed
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// roomWriteTx runs a room write (persisting events, saving state) in a
// transaction: through the group committer where there is one.
func (db *DB) roomWriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.group != nil {
		return db.group.do(ctx, fn)
	}
	return db.writeTx(ctx, fn)
}

// execOne runs a write that must match an existing row and maps "no row
// matched" to storage.ErrNotFound.
func execOne(ctx context.Context, ex execer, query string, args ...any) error {
	res, err := ex.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	return ifNoRows(res, storage.ErrNotFound)
}

// ifNoRows returns errNone if the write touched no row. With
// storage.ErrConflict it reads the result of INSERT … ON CONFLICT DO
// NOTHING: letting the database skip a duplicate, instead of raising an
// error, keeps a PostgreSQL transaction usable and spares us parsing each
// driver's error codes.
func ifNoRows(res sql.Result, errNone error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errNone
	}
	return nil
}

// execer is the part of *sql.DB and *sql.Tx that writes use.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// notFound maps sql.ErrNoRows to storage.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// nullBytes stores an empty byte slice as SQL NULL, because drivers differ
// on how they bind a nil []byte.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
