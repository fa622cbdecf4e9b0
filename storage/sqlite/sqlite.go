package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/warbler-im/warbler/internal/cpus"
	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Every connection enforces foreign keys and waits up to 10 s for a lock
// held by another process (say, a `warbler users` command run beside the
// server) before giving up. Inside one process the single writer means
// writers never wait on each other in SQLite.
const commonParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"

// The writer also switches the file to WAL (which persists in the file),
// syncs every commit (synchronous=FULL: an acknowledged event must survive a
// power cut, not only a process crash; the persist pipeline batches writes
// per transaction so the fsync is amortised), and begins transactions
// IMMEDIATE so a transaction that reads before it writes cannot fail to
// upgrade its lock.
const writerParams = commonParams + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"

// Readers cannot write, so a query sent to the wrong handle fails loudly.
const readerParams = commonParams + "&_pragma=query_only(1)"

// Open opens (creating if needed) the SQLite database at path and migrates
// it to the newest schema.
func Open(ctx context.Context, path string) (storage.Database, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	writer, err := openPool(path, writerParams, 1)
	if err != nil {
		return nil, err
	}
	// Create the file and switch it to WAL before readers attach to it.
	if err := pingWhileBusy(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("storage: open sqlite database %q: %w", path, err)
	}
	reader, err := openPool(path, readerParams, readerConns())
	if err != nil {
		writer.Close()
		return nil, err
	}
	db, err := sqlstore.Open(ctx, sqlstore.Config{
		Dialect:    sqlstore.SQLite,
		Writer:     writer,
		Reader:     reader,
		Migrations: migrations,
	})
	if err != nil {
		return nil, err // not db: a nil *DB would make a non-nil interface
	}
	return db, nil
}

// checkPath rejects names that cannot work with a separate writer and
// reader pool or that the driver would misread.
func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("storage: sqlite database path is empty")
	case strings.Contains(path, ":memory:") || strings.Contains(path, "mode=memory"):
		// Each connection would get its own, empty, database.
		return errors.New("storage: in-memory sqlite databases are not supported; use a file (a temporary directory in tests)")
	case strings.Contains(path, "?"):
		// The driver reads everything after '?' as connection parameters.
		return fmt.Errorf("storage: sqlite database path %q must not contain '?'", path)
	}
	return nil
}

func openPool(path, params string, conns int) (*sql.DB, error) {
	pool, err := sql.Open("sqlite", path+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite database %q: %w", path, err)
	}
	pool.SetMaxOpenConns(conns)
	pool.SetMaxIdleConns(conns)
	// Connections are cheap to keep and costly to reopen (pragmas, schema
	// parse, statement cache), so they live as long as the pool.
	pool.SetConnMaxLifetime(0)
	return pool, nil
}

// readerConns sizes the read pool: reads run in parallel up to the CPUs
// available, with a floor so a slow query does not starve the others.
func readerConns() int {
	return max(4, cpus.N)
}

// pingWhileBusy opens the writer's connection, retrying while another
// process holds the lock: switching a new file to WAL needs an exclusive
// lock, and SQLite reports SQLITE_BUSY for it at once, without waiting for
// busy_timeout, when several processes create the database together.
func pingWhileBusy(ctx context.Context, pool *sql.DB) error {
	deadline := time.Now().Add(busyOpenTimeout)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		err := pool.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// busyOpenTimeout bounds how long Open waits for another process that
// is creating the same database.
const busyOpenTimeout = 10 * time.Second
