package storagetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

const (
	writers         = 8  // goroutines writing at once
	writesPerWriter = 20 // accounts each one creates
	sharedUser      = "@shared:example.org"
)

// testConcurrentWrites has several goroutines create accounts, devices and
// tokens at once, some of them on one shared account, and read them back.
// Every call must succeed: SQLite must queue writers rather than answer
// SQLITE_BUSY, and no write may be lost.
func testConcurrentWrites(t *testing.T, open Opener) {
	db := openDB(t, open)
	mustCreateUser(t, db, sharedUser)
	errs := make(chan error, writers*writesPerWriter)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range writesPerWriter {
				if err := writeAccount(t, db, fmt.Sprintf("w%d_%d", w, i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	count, err := db.CountUsers(t.Context())
	noErr(t, "CountUsers", err)
	wantEqual(t, "CountUsers", count, writers*writesPerWriter+1)
	devices, err := db.ListDevices(t.Context(), sharedUser)
	noErr(t, "ListDevices(shared)", err)
	wantEqual(t, "devices of the shared account", len(devices), writers*writesPerWriter)
}

// writeAccount is one writer's unit of work: a user with a device and a
// token, a device on the shared account, and reads of both.
func writeAccount(t *testing.T, db storage.Database, name string) error {
	ctx := t.Context()
	userID := "@" + name + ":example.org"
	tok := storage.AccessToken{TokenHash: tokenHash(name), UserID: userID, DeviceID: "D", CreatedTS: baseTS}
	steps := []struct {
		what string
		err  func() error
	}{
		{"CreateUser", func() error { return db.CreateUser(ctx, storage.User{UserID: userID, CreatedTS: baseTS}) }},
		{"CreateDevice", func() error { return db.CreateDevice(ctx, storage.Device{UserID: userID, DeviceID: "D"}) }},
		{"CreateAccessToken", func() error { return db.CreateAccessToken(ctx, tok) }},
		{"TouchDevice", func() error { return db.TouchDevice(ctx, userID, "D", baseTS+1, "192.0.2.1") }},
		{"CreateDevice(shared)", func() error {
			return db.CreateDevice(ctx, storage.Device{UserID: sharedUser, DeviceID: name})
		}},
		{"SetDeviceDisplayName(shared)", func() error {
			return db.SetDeviceDisplayName(ctx, sharedUser, name, "renamed")
		}},
		{"LookupAccessToken", func() error { _, err := db.LookupAccessToken(ctx, tok.TokenHash); return err }},
		{"GetDevice(shared)", func() error { _, err := db.GetDevice(ctx, sharedUser, name); return err }},
	}
	for _, step := range steps {
		if err := step.err(); err != nil {
			return fmt.Errorf("%s %s: %w", name, step.what, err)
		}
	}
	return nil
}

// testReopen closes the database and opens it again, twice: what was
// written must still be there, and reapplying no migration must be a no-op.
func testReopen(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	key := storage.SigningKey{KeyID: "ed25519:k", PublicKey: []byte("0123456789abcdef0123456789abcdef"), CreatedTS: baseTS}
	noErr(t, "AddSigningKey", db.AddSigningKey(ctx, key))
	user := mustCreateUser(t, db, alice)
	device := mustCreateDevice(t, db, alice, "PHONE")
	tok := mustCreateToken(t, db, alice, "PHONE", "1")
	noErr(t, "TouchDevice", db.TouchDevice(ctx, alice, "PHONE", baseTS+1, "192.0.2.1"))
	device.LastSeenTS, device.LastSeenIP = baseTS+1, "192.0.2.1"

	for round := 1; round <= 2; round++ {
		noErr(t, "Close", db.Close())
		db = openDB(t, open)
		what := fmt.Sprintf("after reopen %d: ", round)

		keys, err := db.SigningKeys(ctx)
		noErr(t, what+"SigningKeys", err)
		wantEqual(t, what+"SigningKeys", keys, []storage.SigningKey{key})
		gotUser, err := db.GetUser(ctx, alice)
		noErr(t, what+"GetUser", err)
		wantEqual(t, what+"GetUser", gotUser, user)
		gotDevice, err := db.GetDevice(ctx, alice, "PHONE")
		noErr(t, what+"GetDevice", err)
		wantEqual(t, what+"GetDevice", gotDevice, device)
		wantToken(t, db, tok)
	}
}

func testPingAndClose(t *testing.T, open Opener) {
	db := openDB(t, open)
	noErr(t, "Ping", db.Ping(t.Context()))
	noErr(t, "Close", db.Close())
	noErr(t, "second Close", db.Close())
	if err := db.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded, want an error")
	}
}

// ConcurrentOpen calls open from n goroutines at once on one new database,
// as several processes starting together would, and checks that every
// handle works and sees the others' writes. Migrations racing each other
// would fail here with "table already exists".
func ConcurrentOpen(t *testing.T, n int, open func() (storage.Database, error)) {
	handles := make([]storage.Database, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { handles[i], errs[i] = open() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { handles[i].Close() })
	}
	for i, db := range handles {
		mustCreateUser(t, db, fmt.Sprintf("@opener%d:example.org", i))
	}
	for i, db := range handles {
		count, err := db.CountUsers(t.Context())
		noErr(t, "CountUsers", err)
		wantEqual(t, fmt.Sprintf("CountUsers through handle %d", i), count, n)
	}
}
