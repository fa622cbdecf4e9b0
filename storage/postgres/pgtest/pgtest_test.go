package pgtest

import (
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestFreshDatabaseLifecycle checks that the database exists and is empty
// during the test, and is gone afterwards even though a connection to it
// was left open.
func TestFreshDatabaseLifecycle(t *testing.T) {
	var name string
	var leftOpen *sql.DB
	t.Run("user", func(t *testing.T) {
		dsn := FreshDatabase(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		if !strings.HasPrefix(name, "warbler_test_") {
			t.Errorf("database name %q lacks the warbler_test_ prefix", name)
		}
		leftOpen, err = sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		err = leftOpen.QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables)
		if err != nil || tables != 0 {
			t.Errorf("fresh database has %d tables (err %v), want 0", tables, err)
		}
	})
	if name == "" {
		t.Skip("WARBLER_TEST_POSTGRES not set: PostgreSQL tests skipped")
	}
	defer leftOpen.Close()

	admin, err := sql.Open("postgres", os.Getenv(EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var count int
	if err := admin.QueryRow(`SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}
