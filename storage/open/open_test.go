package open_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/storage/open"
	"github.com/warbler-im/warbler/storage/postgres"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
)

// openAndUse opens url and runs one query through the handle.
func openAndUse(t *testing.T, url string) {
	t.Helper()
	db, err := open.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := db.CountUsers(t.Context()); err != nil {
		t.Fatalf("CountUsers: %v", err)
	}
}

func TestOpenSQLite(t *testing.T) {
	openAndUse(t, "sqlite:"+filepath.Join(t.TempDir(), "warbler.db"))
}

func TestOpenPostgres(t *testing.T) {
	dsn := pgtest.FreshDatabase(t)
	openAndUse(t, dsn)
	openAndUse(t, "postgresql://"+strings.TrimPrefix(dsn, "postgres://"))
}

func TestOpenRejects(t *testing.T) {
	const secret = "hunter2"
	tests := []struct {
		name, url, mention string
	}{
		{"empty", "", "sqlite:PATH"},
		{"unknown scheme", "mysql://root:" + secret + "@db/warbler", `"mysql"`},
		{"no scheme", "root:" + secret + "@db/warbler", "sqlite:PATH"},
		{"bare path", "/var/lib/warbler.db", "sqlite:PATH"},
		{"sqlite URL form", "sqlite://warbler.db", "sqlite:relative/path.db"},
		{"sqlite without path", "sqlite:", "empty"},
		{"sqlite in memory", "sqlite::memory:", "in-memory"},
		{"sqlite missing directory", "sqlite:" + filepath.Join(t.TempDir(), "no", "such", "dir", "w.db"), "sqlite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := open.Open(t.Context(), tc.url, postgres.Options{})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if db != nil {
				t.Errorf("Open failed but returned a non-nil Database (%T)", db)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
}
