package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/postgres"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
	"github.com/warbler-im/warbler/storage/sqlite"
	"github.com/warbler-im/warbler/storage/storagetest"
)

// The room store's benchmarks on both engines. They live here, beside the
// code they measure, and open each engine through its own package so the
// connection settings are the ones a server runs with.

var engines = []struct {
	name string
	open func(b *testing.B) storage.Database
}{
	{"sqlite", func(b *testing.B) storage.Database {
		db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(b *testing.B) storage.Database {
		db, err := postgres.Open(b.Context(), pgtest.FreshDatabase(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}},
}

func BenchmarkPersistMessage(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { storagetest.BenchmarkPersistMessage(b, e.open(b)) })
	}
}

func BenchmarkStateSnapshot(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { storagetest.BenchmarkStateSnapshot(b, e.open(b)) })
	}
}

func BenchmarkPersistMessageParallel(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { storagetest.BenchmarkPersistMessageParallel(b, e.open(b)) })
	}
}

func BenchmarkWritePush(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { storagetest.BenchmarkWritePush(b, e.open(b)) })
	}
}
