package storagetest

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

func uses(n int64) *int64 { return &n }

func testRegistrationTokens(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	tokens := []storage.RegistrationToken{
		{Token: "later", UsesAllowed: uses(3), ExpiryTS: baseTS + 1000, CreatedTS: baseTS + 5},
		{Token: "first", CreatedTS: baseTS},
	}
	for _, tok := range tokens {
		noErr(t, "CreateRegistrationToken("+tok.Token+")", db.CreateRegistrationToken(ctx, tok))
	}
	wantErr(t, "CreateRegistrationToken duplicate", db.CreateRegistrationToken(ctx, tokens[1]), storage.ErrConflict)
	got, err := db.GetRegistrationToken(ctx, "later")
	noErr(t, "GetRegistrationToken", err)
	wantEqual(t, "GetRegistrationToken", got, tokens[0])
	list, err := db.ListRegistrationTokens(ctx)
	noErr(t, "ListRegistrationTokens", err)
	wantEqual(t, "ListRegistrationTokens (by creation)", list, []storage.RegistrationToken{tokens[1], tokens[0]})

	noErr(t, "DeleteRegistrationToken", db.DeleteRegistrationToken(ctx, "first"))
	wantErr(t, "GetRegistrationToken after delete", ignoreValue(db.GetRegistrationToken(ctx, "first")), storage.ErrNotFound)
	if err := db.CreateRegistrationToken(ctx, storage.RegistrationToken{}); err == nil {
		t.Error("CreateRegistrationToken with an empty token succeeded")
	}
}

// testRegistrationTokenUses walks a two-use token through reservations,
// a release, completions through CreateAccount and expiry.
func testRegistrationTokenUses(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	noErr(t, "create", db.CreateRegistrationToken(ctx, storage.RegistrationToken{Token: "two", UsesAllowed: uses(2), ExpiryTS: baseTS + 1000, CreatedTS: baseTS}))
	noErr(t, "reserve 1", db.ReserveRegistrationToken(ctx, "two", baseTS))
	noErr(t, "reserve 2", db.ReserveRegistrationToken(ctx, "two", baseTS))
	wantErr(t, "reserve 3 (used up by pending uses)", db.ReserveRegistrationToken(ctx, "two", baseTS), storage.ErrNotFound)
	wantCounts(t, db, "two", 2, 0)

	noErr(t, "release", db.ReleaseRegistrationToken(ctx, "two"))
	wantCounts(t, db, "two", 1, 0)
	acct := newAccount(alice, "alice")
	acct.RegistrationToken = "two"
	noErr(t, "CreateAccount with token", db.CreateAccount(ctx, acct))
	wantCounts(t, db, "two", 0, 1)

	noErr(t, "reserve again", db.ReserveRegistrationToken(ctx, "two", baseTS))
	wantErr(t, "reserve past uses_allowed", db.ReserveRegistrationToken(ctx, "two", baseTS), storage.ErrNotFound)
	noErr(t, "ResetPendingRegistrations", db.ResetPendingRegistrations(ctx))
	wantCounts(t, db, "two", 0, 1)
	wantErr(t, "reserve after expiry", db.ReserveRegistrationToken(ctx, "two", baseTS+1000), storage.ErrNotFound)

	// Releasing never goes below zero.
	noErr(t, "release with none pending", db.ReleaseRegistrationToken(ctx, "two"))
	wantCounts(t, db, "two", 0, 1)

	// Unlimited, never-expiring tokens keep working.
	noErr(t, "create unlimited", db.CreateRegistrationToken(ctx, storage.RegistrationToken{Token: "open", CreatedTS: baseTS}))
	for range 5 {
		noErr(t, "reserve unlimited", db.ReserveRegistrationToken(ctx, "open", baseTS*2))
	}
	wantCounts(t, db, "open", 5, 0)
}

func wantCounts(t *testing.T, db storage.Database, token string, pending, completed int64) {
	t.Helper()
	got, err := db.GetRegistrationToken(t.Context(), token)
	noErr(t, "GetRegistrationToken", err)
	if got.Pending != pending || got.Completed != completed {
		t.Errorf("token %s: pending %d completed %d, want %d and %d", token, got.Pending, got.Completed, pending, completed)
	}
}

func ignoreValue[T any](_ T, err error) error { return err }
