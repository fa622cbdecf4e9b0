package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/sqlite"
	"github.com/warbler-im/warbler/storage/storagetest"
)

// freshPath gives each test its own database file in a temporary directory.
func freshPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "warbler.db")
}

func openPath(ctx context.Context, path string) (storage.Database, error) {
	return sqlite.Open(ctx, path)
}

func TestStorage(t *testing.T) {
	storagetest.Run(t, storagetest.Reopenable(freshPath, openPath))
}

func TestOpenRejectsUnusablePaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared", "data.db?mode=ro"} {
		if db, err := sqlite.Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}

// TestConcurrentOpen starts several servers on one new database at once,
// as a restart of several processes would: each must open it, and the
// schema must be migrated exactly once.
func TestConcurrentOpen(t *testing.T) {
	path := freshPath(t)
	storagetest.ConcurrentOpen(t, 4, func() (storage.Database, error) { return sqlite.Open(t.Context(), path) })
}

func BenchmarkLookupAccessToken(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storagetest.BenchmarkLookupAccessToken(b, db)
}
