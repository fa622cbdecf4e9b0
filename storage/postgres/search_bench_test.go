package postgres_test

import (
	"testing"

	"github.com/warbler-im/warbler/storage/postgres"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
	"github.com/warbler-im/warbler/storage/storagetest"
)

func BenchmarkSearch(b *testing.B) {
	db, err := postgres.Open(b.Context(), pgtest.FreshDatabase(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storagetest.BenchmarkSearch(b, db)
}
