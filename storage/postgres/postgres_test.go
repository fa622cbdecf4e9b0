package postgres_test

import (
	"context"
	"testing"

	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/postgres"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
	"github.com/warbler-im/warbler/storage/storagetest"
)

func freshDSN(t *testing.T) string { return pgtest.FreshDatabase(t) }

func openDSN(ctx context.Context, dsn string) (storage.Database, error) {
	return postgres.Open(ctx, dsn, postgres.Options{})
}

func TestStorage(t *testing.T) {
	storagetest.Run(t, storagetest.Reopenable(freshDSN, openDSN))
}

func TestOpenRejectsBadOptions(t *testing.T) {
	dsn := pgtest.FreshDatabase(t)
	db, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxOpenConns: -1})
	if err == nil {
		db.Close()
		t.Fatal("Open with MaxOpenConns -1 succeeded, want an error")
	}
}

// TestConcurrentOpen starts several servers on one new database at once,
// as a restart of several processes would: each must open it, and the
// schema must be migrated exactly once.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.FreshDatabase(t)
	storagetest.ConcurrentOpen(t, 4, func() (storage.Database, error) { return openDSN(t.Context(), dsn) })
}

func BenchmarkLookupAccessToken(b *testing.B) {
	db, err := postgres.Open(b.Context(), pgtest.FreshDatabase(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storagetest.BenchmarkLookupAccessToken(b, db)
}
