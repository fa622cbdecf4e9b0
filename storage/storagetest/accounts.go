package storagetest

import (
	"context"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testAccounts covers the account store: each part in its own subtest on
// its own database.
func testAccounts(t *testing.T, open Opener) {
	parts := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"CreateAccount", testCreateAccount},
		{"Profiles", testProfiles},
		{"StartSession", testStartSession},
		{"ChangePassword", testChangePassword},
		{"DeactivateAccount", testDeactivateAccount},
		{"RegistrationTokens", testRegistrationTokens},
		{"RegistrationTokenUses", testRegistrationTokenUses},
		{"RefreshRotation", testRefreshRotation},
		{"RefreshReuseBeforeUse", testRefreshReuseBeforeUse},
		{"AccountErrors", testAccountErrors},
	}
	for _, p := range parts {
		t.Run(p.name, func(t *testing.T) { p.run(t, open) })
	}
}

func newAccount(userID, displayName string) storage.NewAccount {
	return storage.NewAccount{
		User:    storage.User{UserID: userID, PasswordHash: "$argon2id$" + userID, CreatedTS: baseTS},
		Profile: storage.Profile{DisplayName: displayName},
	}
}

func testCreateAccount(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	acct := newAccount(alice, "alice")
	noErr(t, "CreateAccount", db.CreateAccount(ctx, acct))
	user, err := db.GetUser(ctx, alice)
	noErr(t, "GetUser", err)
	wantEqual(t, "GetUser", user, acct.User)
	profile, err := db.GetProfile(ctx, alice)
	noErr(t, "GetProfile", err)
	wantEqual(t, "GetProfile", profile, storage.Profile{UserID: alice, DisplayName: "alice"})

	// A conflict leaves nothing half-written: the first profile stays.
	wantErr(t, "CreateAccount again", db.CreateAccount(ctx, newAccount(alice, "impostor")), storage.ErrConflict)
	profile, err = db.GetProfile(ctx, alice)
	noErr(t, "GetProfile after conflict", err)
	wantEqual(t, "GetProfile after conflict", profile.DisplayName, "alice")
}

func testProfiles(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	noErr(t, "CreateAccount", db.CreateAccount(ctx, newAccount(alice, "alice")))
	noErr(t, "SetDisplayName", db.SetDisplayName(ctx, alice, "Alice Liddell"))
	noErr(t, "SetAvatarURL", db.SetAvatarURL(ctx, alice, "mxc://example.org/rabbit"))
	got, err := db.GetProfile(ctx, alice)
	noErr(t, "GetProfile", err)
	wantEqual(t, "GetProfile", got, storage.Profile{UserID: alice, DisplayName: "Alice Liddell", AvatarURL: "mxc://example.org/rabbit"})
	noErr(t, "SetAvatarURL clear", db.SetAvatarURL(ctx, alice, ""))
	got, _ = db.GetProfile(ctx, alice)
	wantEqual(t, "GetProfile after clearing avatar", got, storage.Profile{UserID: alice, DisplayName: "Alice Liddell"})

	// A user made without CreateAccount has an empty profile that the
	// setters create on first use.
	mustCreateUser(t, db, bob)
	got, err = db.GetProfile(ctx, bob)
	noErr(t, "GetProfile without a profile row", err)
	wantEqual(t, "GetProfile without a profile row", got, storage.Profile{UserID: bob})
	noErr(t, "SetAvatarURL without a profile row", db.SetAvatarURL(ctx, bob, "mxc://example.org/b"))
	got, _ = db.GetProfile(ctx, bob)
	wantEqual(t, "GetProfile after first set", got, storage.Profile{UserID: bob, AvatarURL: "mxc://example.org/b"})
}

func testStartSession(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	mustCreateUser(t, db, alice)
	first := storage.AccessToken{TokenHash: tokenHash("first"), UserID: alice, DeviceID: "PHONE", CreatedTS: baseTS}
	device := storage.Device{UserID: alice, DeviceID: "PHONE", DisplayName: "Phone", CreatedTS: baseTS}
	created, err := db.StartSession(ctx, device, first)
	noErr(t, "StartSession new device", err)
	wantEqual(t, "created", created, true)
	wantToken(t, db, first)

	// Logging in again on the device keeps it (and its name) and replaces
	// its token.
	second := storage.AccessToken{TokenHash: tokenHash("second"), UserID: alice, DeviceID: "PHONE", CreatedTS: baseTS + 1,
		ExpiresTS: baseTS + 60_000, RefreshTokenHash: tokenHash("second refresh")}
	device.DisplayName = "Renamed?"
	created, err = db.StartSession(ctx, device, second)
	noErr(t, "StartSession known device", err)
	wantEqual(t, "created", created, false)
	wantNoToken(t, db, first)
	wantToken(t, db, second)
	got, err := db.GetDevice(ctx, alice, "PHONE")
	noErr(t, "GetDevice", err)
	wantEqual(t, "device display name", got.DisplayName, "Phone")
}

func testChangePassword(t *testing.T, open Opener) {
	ctx := t.Context()
	t.Run("logout others", func(t *testing.T) {
		w := newWorld(t, open)
		noErr(t, "ChangePassword", w.db.ChangePassword(ctx, alice, "$argon2id$new", true, "PHONE"))
		w.want(t, map[string][]string{alice: {"PHONE"}, bob: {"LAPTOP", "PHONE"}})
		u, _ := w.db.GetUser(ctx, alice)
		wantEqual(t, "password hash", u.PasswordHash, "$argon2id$new")
	})
	t.Run("keep devices", func(t *testing.T) {
		w := newWorld(t, open)
		noErr(t, "ChangePassword", w.db.ChangePassword(ctx, alice, "$argon2id$new", false, ""))
		w.want(t, map[string][]string{alice: {"LAPTOP", "PHONE"}, bob: {"LAPTOP", "PHONE"}})
	})
	t.Run("logout all", func(t *testing.T) {
		w := newWorld(t, open)
		noErr(t, "ChangePassword", w.db.ChangePassword(ctx, alice, "$argon2id$new", true, ""))
		w.want(t, map[string][]string{alice: {}, bob: {"LAPTOP", "PHONE"}})
	})
}

func testDeactivateAccount(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ctx := t.Context()
	noErr(t, "SetDisplayName", w.db.SetDisplayName(ctx, alice, "Alice"))
	noErr(t, "SetDisplayName", w.db.SetDisplayName(ctx, bob, "Bob"))
	noErr(t, "DeactivateAccount(alice, erase)", w.db.DeactivateAccount(ctx, alice, true, baseTS))
	noErr(t, "DeactivateAccount(bob, keep)", w.db.DeactivateAccount(ctx, bob, false, baseTS))
	w.want(t, map[string][]string{alice: {}, bob: {}})
	for _, tc := range []struct {
		user   string
		erased bool
	}{{alice, true}, {bob, false}} {
		u, err := w.db.GetUser(ctx, tc.user)
		noErr(t, "GetUser", err)
		wantEqual(t, "deactivated", u.Deactivated, true)
		p, err := w.db.GetProfile(ctx, tc.user)
		noErr(t, "GetProfile", err)
		wantEqual(t, "profile after deactivation", p, storage.Profile{UserID: tc.user})
		erased, err := w.db.IsUserErased(ctx, tc.user)
		noErr(t, "IsUserErased", err)
		wantEqual(t, "IsUserErased("+tc.user+")", erased, tc.erased)
	}
	noErr(t, "DeactivateAccount again", w.db.DeactivateAccount(ctx, alice, true, baseTS+1))
}

// testAccountErrors runs the account calls that name something missing or
// duplicate.
func testAccountErrors(t *testing.T, open Opener) {
	db := openDB(t, open)
	mustCreateUser(t, db, alice)
	const nobody = "@nobody:example.org"
	notFound := []errorCase{
		{"GetProfile", func(ctx context.Context, db storage.Database) error { _, err := db.GetProfile(ctx, nobody); return err }},
		{"SetDisplayName", func(ctx context.Context, db storage.Database) error { return db.SetDisplayName(ctx, nobody, "x") }},
		{"SetAvatarURL", func(ctx context.Context, db storage.Database) error { return db.SetAvatarURL(ctx, nobody, "mxc://x/y") }},
		{"ChangePassword", func(ctx context.Context, db storage.Database) error {
			return db.ChangePassword(ctx, nobody, "x", true, "")
		}},
		{"DeactivateAccount", func(ctx context.Context, db storage.Database) error {
			return db.DeactivateAccount(ctx, nobody, true, baseTS)
		}},
		{"StartSession", func(ctx context.Context, db storage.Database) error {
			_, err := db.StartSession(ctx, storage.Device{UserID: nobody, DeviceID: "D"}, storage.AccessToken{TokenHash: tokenHash("n"), UserID: nobody, DeviceID: "D"})
			return err
		}},
		{"LookupRefreshToken", func(ctx context.Context, db storage.Database) error {
			_, err := db.LookupRefreshToken(ctx, tokenHash("nosuch"))
			return err
		}},
		{"RotateRefreshToken", func(ctx context.Context, db storage.Database) error {
			return db.RotateRefreshToken(ctx, tokenHash("nosuch"), storage.AccessToken{TokenHash: tokenHash("n"), RefreshTokenHash: tokenHash("nr")}, baseTS)
		}},
		{"GetRegistrationToken", func(ctx context.Context, db storage.Database) error {
			_, err := db.GetRegistrationToken(ctx, "nosuch")
			return err
		}},
		{"DeleteRegistrationToken", func(ctx context.Context, db storage.Database) error { return db.DeleteRegistrationToken(ctx, "nosuch") }},
		{"ReserveRegistrationToken", func(ctx context.Context, db storage.Database) error {
			return db.ReserveRegistrationToken(ctx, "nosuch", baseTS)
		}},
		{"ReleaseRegistrationToken", func(ctx context.Context, db storage.Database) error {
			return db.ReleaseRegistrationToken(ctx, "nosuch")
		}},
	}
	runErrorCases(t, db, notFound, storage.ErrNotFound)
	erased, err := db.IsUserErased(t.Context(), nobody)
	noErr(t, "IsUserErased(unknown)", err)
	wantEqual(t, "IsUserErased(unknown)", erased, false)
}
