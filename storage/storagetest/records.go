package storagetest

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

func testSigningKeys(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()

	keys, err := db.SigningKeys(ctx)
	noErr(t, "SigningKeys on an empty database", err)
	if len(keys) != 0 {
		t.Fatalf("SigningKeys on an empty database = %v, want none", keys)
	}

	old := storage.SigningKey{KeyID: "ed25519:old", PublicKey: []byte("0123456789abcdef0123456789abcdef"), CreatedTS: baseTS}
	current := storage.SigningKey{KeyID: "ed25519:new", PublicKey: []byte("fedcba9876543210fedcba9876543210"), CreatedTS: baseTS + 1000}
	// Added newest first, to show that the result is ordered by age.
	noErr(t, "AddSigningKey(new)", db.AddSigningKey(ctx, current))
	noErr(t, "AddSigningKey(old)", db.AddSigningKey(ctx, old))
	noErr(t, "ExpireSigningKey(old)", db.ExpireSigningKey(ctx, old.KeyID, baseTS+2000))

	keys, err = db.SigningKeys(ctx)
	noErr(t, "SigningKeys", err)
	old.ExpiredTS = baseTS + 2000
	wantEqual(t, "SigningKeys", keys, []storage.SigningKey{old, current})
}

func testUsers(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	users := []storage.User{
		{UserID: "@alice:example.org", PasswordHash: "$argon2id$alice", CreatedTS: baseTS},
		{UserID: "@admin:example.org", PasswordHash: "$argon2id$admin", IsAdmin: true, CreatedTS: baseTS + 1},
		{UserID: "@guest1:example.org", IsGuest: true, CreatedTS: baseTS + 2},
		{UserID: "@gone:example.org", Deactivated: true, CreatedTS: baseTS + 3},
	}
	for _, u := range users {
		noErr(t, "CreateUser("+u.UserID+")", db.CreateUser(ctx, u))
	}
	for _, want := range users {
		got, err := db.GetUser(ctx, want.UserID)
		noErr(t, "GetUser("+want.UserID+")", err)
		wantEqual(t, "GetUser", got, want)
	}
	count, err := db.CountUsers(ctx)
	noErr(t, "CountUsers", err)
	wantEqual(t, "CountUsers", count, len(users))

	alice := users[0]
	steps := []struct {
		name   string
		change func() error
		apply  func(u *storage.User)
	}{
		{"SetPasswordHash", func() error { return db.SetPasswordHash(ctx, alice.UserID, "$argon2id$new") },
			func(u *storage.User) { u.PasswordHash = "$argon2id$new" }},
		{"SetPasswordHash to none", func() error { return db.SetPasswordHash(ctx, alice.UserID, "") },
			func(u *storage.User) { u.PasswordHash = "" }},
		{"SetAdmin(true)", func() error { return db.SetAdmin(ctx, alice.UserID, true) },
			func(u *storage.User) { u.IsAdmin = true }},
		{"SetAdmin(false)", func() error { return db.SetAdmin(ctx, alice.UserID, false) },
			func(u *storage.User) { u.IsAdmin = false }},
	}
	want := alice
	for _, step := range steps {
		noErr(t, step.name, step.change())
		step.apply(&want)
		got, err := db.GetUser(ctx, alice.UserID)
		noErr(t, "GetUser after "+step.name, err)
		wantEqual(t, "GetUser after "+step.name, got, want)
	}
}

func testDevices(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	mustCreateUser(t, db, "@alice:example.org")
	mustCreateUser(t, db, "@bob:example.org")
	mustCreateUser(t, db, "@carol:example.org")

	// Created out of order; bob shares a device ID with alice, which must
	// not mix their devices up.
	phone := storage.Device{UserID: "@alice:example.org", DeviceID: "PHONE", DisplayName: "Alice's phone", CreatedTS: baseTS, LastSeenTS: baseTS, LastSeenIP: "192.0.2.1"}
	laptop := storage.Device{UserID: "@alice:example.org", DeviceID: "LAPTOP", CreatedTS: baseTS + 1}
	bobPhone := storage.Device{UserID: "@bob:example.org", DeviceID: "PHONE", DisplayName: "Bob's phone", CreatedTS: baseTS + 2}
	for _, d := range []storage.Device{phone, laptop, bobPhone} {
		noErr(t, "CreateDevice("+d.UserID+", "+d.DeviceID+")", db.CreateDevice(ctx, d))
	}

	got, err := db.GetDevice(ctx, phone.UserID, phone.DeviceID)
	noErr(t, "GetDevice", err)
	wantEqual(t, "GetDevice", got, phone)

	devices, err := db.ListDevices(ctx, "@alice:example.org")
	noErr(t, "ListDevices(alice)", err)
	wantEqual(t, "ListDevices(alice)", devices, []storage.Device{laptop, phone})
	wantDeviceIDs(t, db, "@carol:example.org")  // a user without devices
	wantDeviceIDs(t, db, "@nobody:example.org") // an unknown user

	noErr(t, "SetDeviceDisplayName", db.SetDeviceDisplayName(ctx, phone.UserID, phone.DeviceID, "Old phone"))
	noErr(t, "TouchDevice", db.TouchDevice(ctx, phone.UserID, phone.DeviceID, baseTS+5000, "2001:db8::1"))
	phone.DisplayName, phone.LastSeenTS, phone.LastSeenIP = "Old phone", baseTS+5000, "2001:db8::1"
	got, err = db.GetDevice(ctx, phone.UserID, phone.DeviceID)
	noErr(t, "GetDevice after changes", err)
	wantEqual(t, "GetDevice after changes", got, phone)

	got, err = db.GetDevice(ctx, bobPhone.UserID, bobPhone.DeviceID)
	noErr(t, "GetDevice(bob)", err)
	wantEqual(t, "bob's device, untouched by changes to alice's", got, bobPhone)
}

func testAccessTokens(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	mustCreateUser(t, db, "@alice:example.org")
	mustCreateDevice(t, db, "@alice:example.org", "PHONE")

	refreshing := storage.AccessToken{
		TokenHash: tokenHash("refreshing"), UserID: "@alice:example.org", DeviceID: "PHONE",
		CreatedTS: baseTS, ExpiresTS: baseTS + 300_000, RefreshTokenHash: tokenHash("refresh"),
	}
	plain := storage.AccessToken{TokenHash: tokenHash("plain"), UserID: "@alice:example.org", DeviceID: "PHONE", CreatedTS: baseTS}
	for _, tok := range []storage.AccessToken{refreshing, plain} {
		noErr(t, "CreateAccessToken", db.CreateAccessToken(ctx, tok))
	}
	// refreshing expired long ago by the wall clock: storage returns it
	// all the same, since judging expiry is the caller's job.
	wantToken(t, db, refreshing)
	wantToken(t, db, plain) // RefreshTokenHash stays nil, ExpiresTS 0

	noErr(t, "DeleteAccessToken", db.DeleteAccessToken(ctx, plain.TokenHash))
	wantNoToken(t, db, plain)
	wantToken(t, db, refreshing)
}
