package storagetest

import (
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// benchAccounts is how many accounts the benchmark database holds, each
// with two devices and a token per device, so lookups search a realistic
// index rather than a handful of rows.
const benchAccounts = 1000

// BenchmarkLookupAccessToken measures LookupAccessToken, which runs on
// every authenticated request, on db (which it fills first): "serial" from
// one goroutine, "parallel" from GOMAXPROCS goroutines at once.
func BenchmarkLookupAccessToken(b *testing.B, db storage.Database) {
	hashes := fillForBenchmark(b, db)
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := lookup(b, db, hashes[i%len(hashes)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := lookup(b, db, hashes[i%len(hashes)]); err != nil {
					b.Error(err) // Fatal may only run on the benchmark's own goroutine
					return
				}
				i += 7 // spread goroutines over different tokens
			}
		})
	})
}

func lookup(b *testing.B, db storage.Database, hash []byte) error {
	if _, err := db.LookupAccessToken(b.Context(), hash); err != nil {
		return fmt.Errorf("LookupAccessToken: %w", err)
	}
	return nil
}

// fillForBenchmark creates the accounts and returns every token hash.
func fillForBenchmark(b *testing.B, db storage.Database) [][]byte {
	ctx := b.Context()
	var hashes [][]byte
	for i := range benchAccounts {
		userID := fmt.Sprintf("@user%d:example.org", i)
		if err := db.CreateUser(ctx, storage.User{UserID: userID, CreatedTS: baseTS}); err != nil {
			b.Fatal(err)
		}
		for _, deviceID := range []string{"LAPTOP", "PHONE"} {
			tok := storage.AccessToken{TokenHash: tokenHash(userID + deviceID), UserID: userID, DeviceID: deviceID, CreatedTS: baseTS}
			if err := db.CreateDevice(ctx, storage.Device{UserID: userID, DeviceID: deviceID, CreatedTS: baseTS}); err != nil {
				b.Fatal(err)
			}
			if err := db.CreateAccessToken(ctx, tok); err != nil {
				b.Fatal(err)
			}
			hashes = append(hashes, tok.TokenHash)
		}
	}
	return hashes
}
