package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/lib/pq"

	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options sizes the connection pool. Zero fields take the defaults.
type Options struct {
	MaxOpenConns int // default 20
	// MaxIdleConns defaults to 20. With fewer idle than open connections
	// a warbler bench (c=8) opened 596 PostgreSQL sessions in one run,
	// each a new backend that prepares its statements again; with 20, 20.
	MaxIdleConns int
}

const (
	defaultMaxOpenConns = 20
	defaultMaxIdleConns = 20
)

func (o Options) withDefaults() Options {
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = defaultMaxOpenConns
	}
	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = defaultMaxIdleConns
	}
	return o
}

func (o Options) validate() error {
	if o.MaxOpenConns < 0 || o.MaxIdleConns < 0 {
		return fmt.Errorf("storage: postgres pool sizes must be positive (max open %d, max idle %d)", o.MaxOpenConns, o.MaxIdleConns)
	}
	return nil
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string, as lib/pq accepts) and migrates it to the
// newest schema.
func Open(ctx context.Context, dsn string, opts Options) (storage.Database, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	connector, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("storage: postgres connection string: %w", withoutURL(err))
	}
	pool := sql.OpenDB(connector)
	pool.SetMaxOpenConns(opts.MaxOpenConns)
	pool.SetMaxIdleConns(opts.MaxIdleConns)
	db, err := sqlstore.Open(ctx, sqlstore.Config{
		Dialect:    sqlstore.Postgres,
		Writer:     pool,
		Reader:     pool,
		Migrations: migrations,
	})
	if err != nil {
		return nil, err // not db: a nil *DB would make a non-nil interface
	}
	return db, nil
}

// withoutURL drops the URL that a URL parse error quotes, since it may hold
// a password and the error is bound for logs.
func withoutURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}
