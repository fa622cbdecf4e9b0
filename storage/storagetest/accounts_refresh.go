package storagetest

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// refreshable is an access token with a refresh token on alice's PHONE.
func refreshable(name string, createdTS int64) storage.AccessToken {
	return storage.AccessToken{
		TokenHash: tokenHash("access " + name), RefreshTokenHash: tokenHash("refresh " + name),
		UserID: alice, DeviceID: "PHONE", CreatedTS: createdTS, ExpiresTS: createdTS + 300_000,
	}
}

// startRefreshable gives alice a PHONE whose session holds token a.
func startRefreshable(t *testing.T, open Opener) (storage.Database, storage.AccessToken) {
	t.Helper()
	db := openDB(t, open)
	mustCreateUser(t, db, alice)
	a := refreshable("a", baseTS)
	_, err := db.StartSession(t.Context(), storage.Device{UserID: alice, DeviceID: "PHONE", CreatedTS: baseTS}, a)
	noErr(t, "StartSession", err)
	return db, a
}

// testRefreshRotation follows the spec: the old refresh token stays valid
// until the new access token is used; then it is revoked.
func testRefreshRotation(t *testing.T, open Opener) {
	db, a := startRefreshable(t, open)
	ctx := t.Context()
	found, err := db.LookupRefreshToken(ctx, a.RefreshTokenHash)
	noErr(t, "LookupRefreshToken", err)
	wantEqual(t, "LookupRefreshToken", found, a)

	b := refreshable("b", baseTS+10)
	noErr(t, "RotateRefreshToken a→b", db.RotateRefreshToken(ctx, a.RefreshTokenHash, b, baseTS+10))
	wantToken(t, db, b)
	expiredA := a
	expiredA.ExpiresTS = baseTS + 10 // the old access token expires at once
	wantToken(t, db, expiredA)
	_, err = db.LookupRefreshToken(ctx, a.RefreshTokenHash)
	noErr(t, "old refresh token before b is used", err)

	noErr(t, "ConfirmRefreshedToken(b)", db.ConfirmRefreshedToken(ctx, b.TokenHash))
	wantNoToken(t, db, a)
	_, err = db.LookupRefreshToken(ctx, a.RefreshTokenHash)
	wantErr(t, "old refresh token after b is used", err, storage.ErrNotFound)
	noErr(t, "ConfirmRefreshedToken(b) again", db.ConfirmRefreshedToken(ctx, b.TokenHash))
	wantToken(t, db, b)

	// Using b's refresh token confirms b as well, and revokes nothing else.
	c := refreshable("c", baseTS+20)
	noErr(t, "RotateRefreshToken b→c", db.RotateRefreshToken(ctx, b.RefreshTokenHash, c, baseTS+20))
	d := refreshable("d", baseTS+30)
	noErr(t, "RotateRefreshToken c→d", db.RotateRefreshToken(ctx, c.RefreshTokenHash, d, baseTS+30))
	wantNoToken(t, db, b) // revoked when c's refresh token was used
	wantToken(t, db, d)
	wantDeviceIDs(t, db, alice, "PHONE")
}

// testRefreshReuseBeforeUse repeats a refresh whose answer was lost: the
// unused replacement is dropped and a new one issued.
func testRefreshReuseBeforeUse(t *testing.T, open Opener) {
	db, a := startRefreshable(t, open)
	ctx := t.Context()
	lost := refreshable("lost", baseTS+10)
	noErr(t, "RotateRefreshToken a→lost", db.RotateRefreshToken(ctx, a.RefreshTokenHash, lost, baseTS+10))
	retry := refreshable("retry", baseTS+20)
	noErr(t, "RotateRefreshToken a→retry", db.RotateRefreshToken(ctx, a.RefreshTokenHash, retry, baseTS+20))
	wantNoToken(t, db, lost)
	wantToken(t, db, retry)
	_, err := db.LookupRefreshToken(ctx, lost.RefreshTokenHash)
	wantErr(t, "lost refresh token", err, storage.ErrNotFound)

	// Deleting the device ends the whole chain, old refresh token included.
	noErr(t, "DeleteDevice", db.DeleteDevice(ctx, alice, "PHONE"))
	_, err = db.LookupRefreshToken(ctx, a.RefreshTokenHash)
	wantErr(t, "refresh token after device deletion", err, storage.ErrNotFound)
	wantNoToken(t, db, retry)
}
