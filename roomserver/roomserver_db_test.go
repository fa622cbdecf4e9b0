package roomserver

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/open"
	"github.com/warbler-im/warbler/storage/postgres"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
)

// The scenarios against the real databases, through storage/open as the
// server opens them. PostgreSQL runs when WARBLER_TEST_POSTGRES is set.

func sqliteStores(t testing.TB) Store {
	return openDB(t, "sqlite:"+filepath.Join(t.TempDir(), "warbler.db"))
}

func postgresStores(t testing.TB) Store {
	return openDB(t, pgtest.FreshDatabase(t))
}

func openDB(t testing.TB, url string) storage.Database {
	t.Helper()
	db, err := open.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestScenariosSQLite(t *testing.T)     { runScenarios(t, sqliteStores) }
func TestScenariosPostgreSQL(t *testing.T) { runScenarios(t, postgresStores) }
