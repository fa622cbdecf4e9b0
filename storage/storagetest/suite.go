package storagetest

import (
	"context"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// Opener opens the database under test. The first call for a given test
// must return an empty database of its own; later calls for the same test
// must reopen that same database, as a restarted server would. The suite
// closes every handle it is given.
type Opener func(t *testing.T) storage.Database

// Run runs the whole suite, one subtest per behaviour.
func Run(t *testing.T, open func(t *testing.T) storage.Database) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"SigningKeys", testSigningKeys},
		{"RemoteServerKeys", testRemoteServerKeys},
		{"Users", testUsers},
		{"Devices", testDevices},
		{"AccessTokens", testAccessTokens},
		{"DeleteDevice", testDeleteDevice},
		{"DeleteDevices", testDeleteDevices},
		{"DeleteUserAccessTokens", testDeleteUserAccessTokens},
		{"DeactivateUser", testDeactivateUser},
		{"Accounts", testAccounts},
		{"Media", testMedia},
		{"Filters", testFilters},
		{"Aliases", testAliases},
		{"Search", testSearch},
		{"RemoteInvites", testRemoteInvites},
		{"AccountData", testAccountData},
		{"Receipts", testReceipts},
		{"Presence", testPresence},
		{"Directory", testDirectory},
		{"EventsByTimestamp", testEventsByTimestamp},
		{"SearchProfiles", testSearchProfiles},
		{"RoomMemberSummary", testRoomMemberSummary},
		{"ContentReports", testContentReports},
		{"OpenIDTokens", testOpenIDTokens},
		{"Moderation", testModeration},
		{"UserReports", testUserReports},
		{"LoginTokens", testLoginTokens},
		{"NotFound", testNotFound},
		{"Conflict", testConflict},
		{"InvalidInput", testInvalidInput},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Reopen", testReopen},
		{"PingAndClose", testPingAndClose},
	}
	tests = append(tests, roomTests...)
	tests = append(tests, relationTests...)
	tests = append(tests, federationQueueTests...)
	tests = append(tests, e2eeTests...)
	tests = append(tests, pushTests...)
	tests = append(tests, userCacheTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
}

// Reopenable builds an Opener from two engine-specific steps: fresh makes
// a new empty database for a test and returns where it is (a file path, a
// DSN), and open opens such a location. It remembers each test's location
// so that a second call for the same test reopens it.
func Reopenable(fresh func(t *testing.T) string, open func(ctx context.Context, location string) (storage.Database, error)) func(t *testing.T) storage.Database {
	var mu sync.Mutex
	locations := map[*testing.T]string{}
	return func(t *testing.T) storage.Database {
		t.Helper()
		mu.Lock()
		location, known := locations[t]
		mu.Unlock()
		if !known {
			// Outside the lock: fresh may skip or fail the test, ending
			// its goroutine.
			location = fresh(t)
			mu.Lock()
			locations[t] = location
			mu.Unlock()
			t.Cleanup(func() {
				mu.Lock()
				delete(locations, t)
				mu.Unlock()
			})
		}
		db, err := open(t.Context(), location)
		if err != nil {
			t.Fatalf("open database: %v", err)
		}
		return db
	}
}

// openDB opens the test's database and closes it when the test ends.
func openDB(t *testing.T, open Opener) storage.Database {
	t.Helper()
	db := open(t)
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close database: %v", err)
		}
	})
	return db
}
