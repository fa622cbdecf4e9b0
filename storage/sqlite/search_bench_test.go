package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/warbler-im/warbler/storage/sqlite"
	"github.com/warbler-im/warbler/storage/storagetest"
)

func BenchmarkSearch(b *testing.B) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storagetest.BenchmarkSearch(b, db)
}
