package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migration is one numbered schema step, e.g. 0001_init.sql.
type migration struct {
	version int
	name    string
	sql     string
}

const qCreateMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name    TEXT NOT NULL
)`

// migrate applies, in order, every migration the database has not seen.
// Each runs in its own transaction together with the row that records it,
// so a failed step leaves the schema at the previous version.
func migrate(ctx context.Context, w *sql.DB, d Dialect, fsys fs.FS) error {
	migrations, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	if err := inMigrationTx(ctx, w, d, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, qCreateMigrationsTable)
		return err
	}); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := refuseNewerSchema(ctx, w, len(migrations)); err != nil {
		return err
	}
	for _, m := range migrations {
		if err := applyMigration(ctx, w, d, m); err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// refuseNewerSchema stops an older binary from running on a database that
// a newer one has already migrated past what it understands.
func refuseNewerSchema(ctx context.Context, w *sql.DB, newestKnown int) error {
	var newest sql.NullInt64
	err := w.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest)
	if err != nil {
		return err
	}
	if int(newest.Int64) > newestKnown {
		return fmt.Errorf("database schema is at version %d but this build knows only up to %d; run a newer Warbler", newest.Int64, newestKnown)
	}
	return nil
}

func applyMigration(ctx context.Context, w *sql.DB, d Dialect, m migration) error {
	return inMigrationTx(ctx, w, d, func(tx *sql.Tx) error {
		var applied int
		err := tx.QueryRowContext(ctx, d.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = $1`), m.version).Scan(&applied)
		if err != nil || applied > 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`), m.version, m.name)
		return err
	})
}

// inMigrationTx runs fn in a transaction that holds the dialect's migration
// lock, if it has one.
func inMigrationTx(ctx context.Context, w *sql.DB, d Dialect, fn func(tx *sql.Tx) error) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once committed
	if d.migrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.migrationLock); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// loadMigrations reads the NNNN_name.sql files at the root of fsys and
// checks that they are numbered 1, 2, 3… with no gaps or repeats, so a
// misnamed file fails loudly instead of being skipped.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var migrations []migration
	for _, file := range names {
		m, err := readMigration(fsys, file)
		if err != nil {
			return nil, err
		}
		migrations = append(migrations, m)
	}
	if len(migrations) == 0 {
		return nil, errors.New("no migrations found")
	}
	sort.Slice(migrations, func(i, j int) bool { return migrations[i].version < migrations[j].version })
	for i, m := range migrations {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations must be numbered 1, 2, 3… without gaps or repeats; found %04d_%s where %04d was expected", m.version, m.name, i+1)
		}
	}
	return migrations, nil
}

func readMigration(fsys fs.FS, file string) (migration, error) {
	base := strings.TrimSuffix(path.Base(file), ".sql")
	number, name, ok := strings.Cut(base, "_")
	version, err := strconv.Atoi(number)
	if !ok || err != nil || version <= 0 || name == "" {
		return migration{}, fmt.Errorf("migration file %q is not named NNNN_name.sql", file)
	}
	body, err := fs.ReadFile(fsys, file)
	if err != nil {
		return migration{}, err
	}
	return migration{version: version, name: name, sql: string(body)}, nil
}
