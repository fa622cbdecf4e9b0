package sqlstore

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite"
)

func files(names ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, name := range names {
		fsys[name] = &fstest.MapFile{Data: []byte("-- " + name)}
	}
	return fsys
}

func TestLoadMigrations(t *testing.T) {
	got, err := loadMigrations(files("0002_rooms.sql", "0001_init.sql", "0010_later.sql.orig", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.name)
	}
	if want := []string{"init", "rooms"}; !reflect.DeepEqual(names, want) {
		t.Errorf("loaded %q, want %q in that order", names, want)
	}
}

func TestLoadMigrationsRejects(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
	}{
		{"none", files()},
		{"gap", files("0001_init.sql", "0003_rooms.sql")},
		{"not starting at 1", files("0002_init.sql")},
		{"repeated version", files("0001_init.sql", "0001_other.sql")},
		{"zero", files("0000_init.sql")},
		{"no number", files("init.sql")},
		{"no name", files("0001.sql")},
		{"no separator", files("0001init.sql")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := loadMigrations(tc.files); err == nil {
				t.Error("loadMigrations succeeded, want an error")
			}
		})
	}
}

// openSQLite opens a bare SQLite database with one connection, as the
// writer handle would be.
func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func sqlFiles(bodies ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i, body := range bodies {
		fsys[fmt.Sprintf("%04d_step.sql", i+1)] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

func appliedVersions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	return versions
}

func TestMigrateAppliesEachOnceInOrder(t *testing.T) {
	db := openSQLite(t)
	ctx := t.Context()
	// Plain CREATE TABLE (no IF NOT EXISTS) fails if run twice, and step 2
	// fails if run before step 1; each file holds several statements.
	v1 := `CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER);`
	v2 := `CREATE TABLE c (z INTEGER REFERENCES a (x)); INSERT INTO a VALUES (1);`
	for _, fsys := range []fstest.MapFS{sqlFiles(v1), sqlFiles(v1), sqlFiles(v1, v2), sqlFiles(v1, v2)} {
		if err := migrate(ctx, db, SQLite, fsys); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	if got, want := appliedVersions(t, db), []int{1, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("applied versions %v, want %v", got, want)
	}
	var rowsInA int
	if err := db.QueryRow(`SELECT COUNT(*) FROM a`).Scan(&rowsInA); err != nil || rowsInA != 1 {
		t.Errorf("table a has %d rows (err %v), want 1: step 2 ran more than once", rowsInA, err)
	}
}

func TestMigrateRollsBackAFailedStep(t *testing.T) {
	db := openSQLite(t)
	ctx := t.Context()
	broken := `CREATE TABLE half (x INTEGER); CREATE TABLE oops (;`
	if err := migrate(ctx, db, SQLite, sqlFiles(`CREATE TABLE a (x INTEGER);`, broken)); err == nil {
		t.Fatal("migrate with a broken step succeeded")
	}
	if got, want := appliedVersions(t, db), []int{1}; !reflect.DeepEqual(got, want) {
		t.Errorf("applied versions %v, want %v", got, want)
	}
	var tables int
	db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'`).Scan(&tables)
	if tables != 0 {
		t.Error("the broken step's first statement was kept")
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	db := openSQLite(t)
	ctx := t.Context()
	if err := migrate(ctx, db, SQLite, sqlFiles(`CREATE TABLE a (x INTEGER);`, `CREATE TABLE b (x INTEGER);`)); err != nil {
		t.Fatal(err)
	}
	err := migrate(ctx, db, SQLite, sqlFiles(`CREATE TABLE a (x INTEGER);`))
	if err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("migrate with an older build: got %v, want an error naming version 2", err)
	}
}

// TestEngineMigrationsAreParallel keeps the two engines' schemas in step:
// every migration must exist for both.
func TestEngineMigrationsAreParallel(t *testing.T) {
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	sqlite, postgres := names("../sqlite/migrations"), names("../postgres/migrations")
	if !reflect.DeepEqual(sqlite, postgres) {
		t.Errorf("migration files differ:\n sqlite   %q\n postgres %q", sqlite, postgres)
	}
}
