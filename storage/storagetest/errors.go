package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// errorCase is one call that must fail, and how.
type errorCase struct {
	name string
	call func(ctx context.Context, db storage.Database) error
}

// testNotFound runs every call that names something missing against a
// database where alice exists with device PHONE and one token, so each
// case misses on exactly one part of its arguments.
func testNotFound(t *testing.T, open Opener) {
	db := openDB(t, open)
	mustCreateUser(t, db, alice)
	mustCreateDevice(t, db, alice, "PHONE")
	mustCreateToken(t, db, alice, "PHONE", "1")
	const nobody = "@nobody:example.org"
	cases := []errorCase{
		{"ExpireSigningKey unknown key", func(ctx context.Context, db storage.Database) error {
			return db.ExpireSigningKey(ctx, "ed25519:nosuch", baseTS)
		}},
		{"GetUser", func(ctx context.Context, db storage.Database) error {
			_, err := db.GetUser(ctx, nobody)
			return err
		}},
		{"SetPasswordHash", func(ctx context.Context, db storage.Database) error {
			return db.SetPasswordHash(ctx, nobody, "x")
		}},
		{"SetAdmin", func(ctx context.Context, db storage.Database) error { return db.SetAdmin(ctx, nobody, true) }},
		{"DeactivateUser", func(ctx context.Context, db storage.Database) error { return db.DeactivateUser(ctx, nobody) }},
		{"CreateDevice unknown user", func(ctx context.Context, db storage.Database) error {
			return db.CreateDevice(ctx, storage.Device{UserID: nobody, DeviceID: "PHONE"})
		}},
		{"GetDevice unknown user", func(ctx context.Context, db storage.Database) error {
			_, err := db.GetDevice(ctx, nobody, "PHONE")
			return err
		}},
		{"GetDevice unknown device", func(ctx context.Context, db storage.Database) error {
			_, err := db.GetDevice(ctx, alice, "NOSUCH")
			return err
		}},
		{"SetDeviceDisplayName unknown user", func(ctx context.Context, db storage.Database) error {
			return db.SetDeviceDisplayName(ctx, nobody, "PHONE", "x")
		}},
		{"SetDeviceDisplayName unknown device", func(ctx context.Context, db storage.Database) error {
			return db.SetDeviceDisplayName(ctx, alice, "NOSUCH", "x")
		}},
		{"TouchDevice unknown user", func(ctx context.Context, db storage.Database) error {
			return db.TouchDevice(ctx, nobody, "PHONE", baseTS, "192.0.2.1")
		}},
		{"TouchDevice unknown device", func(ctx context.Context, db storage.Database) error {
			return db.TouchDevice(ctx, alice, "NOSUCH", baseTS, "192.0.2.1")
		}},
		{"DeleteDevice unknown user", func(ctx context.Context, db storage.Database) error {
			return db.DeleteDevice(ctx, nobody, "PHONE")
		}},
		{"DeleteDevice unknown device", func(ctx context.Context, db storage.Database) error {
			return db.DeleteDevice(ctx, alice, "NOSUCH")
		}},
		{"CreateAccessToken unknown user", func(ctx context.Context, db storage.Database) error {
			return db.CreateAccessToken(ctx, storage.AccessToken{TokenHash: tokenHash("new"), UserID: nobody, DeviceID: "PHONE"})
		}},
		{"CreateAccessToken unknown device", func(ctx context.Context, db storage.Database) error {
			return db.CreateAccessToken(ctx, storage.AccessToken{TokenHash: tokenHash("new"), UserID: alice, DeviceID: "NOSUCH"})
		}},
		{"LookupAccessToken", func(ctx context.Context, db storage.Database) error {
			_, err := db.LookupAccessToken(ctx, tokenHash("nosuch"))
			return err
		}},
		{"DeleteAccessToken", func(ctx context.Context, db storage.Database) error {
			return db.DeleteAccessToken(ctx, tokenHash("nosuch"))
		}},
	}
	runErrorCases(t, db, cases, storage.ErrNotFound)
	// None of the failed calls may have changed what exists.
	wantDeviceIDs(t, db, alice, "PHONE")
	wantToken(t, db, storage.AccessToken{TokenHash: tokenHash(alice + "|PHONE|1"), UserID: alice, DeviceID: "PHONE", CreatedTS: baseTS})
}

// testConflict runs every create call whose key already exists.
func testConflict(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	mustCreateUser(t, db, alice)
	mustCreateDevice(t, db, alice, "PHONE")
	mustCreateDevice(t, db, alice, "LAPTOP")
	existing := storage.AccessToken{TokenHash: tokenHash("a"), UserID: alice, DeviceID: "PHONE", CreatedTS: baseTS, RefreshTokenHash: tokenHash("refresh a")}
	noErr(t, "CreateAccessToken", db.CreateAccessToken(ctx, existing))
	key := storage.SigningKey{KeyID: "ed25519:k", PublicKey: []byte("0123456789abcdef0123456789abcdef"), CreatedTS: baseTS}
	noErr(t, "AddSigningKey", db.AddSigningKey(ctx, key))

	cases := []errorCase{
		{"AddSigningKey", func(ctx context.Context, db storage.Database) error {
			return db.AddSigningKey(ctx, storage.SigningKey{KeyID: key.KeyID, PublicKey: []byte("other"), CreatedTS: baseTS + 1})
		}},
		{"CreateUser", func(ctx context.Context, db storage.Database) error {
			return db.CreateUser(ctx, storage.User{UserID: alice, CreatedTS: baseTS + 1})
		}},
		{"CreateDevice", func(ctx context.Context, db storage.Database) error {
			return db.CreateDevice(ctx, storage.Device{UserID: alice, DeviceID: "PHONE", DisplayName: "other"})
		}},
		{"CreateAccessToken same token", func(ctx context.Context, db storage.Database) error {
			return db.CreateAccessToken(ctx, storage.AccessToken{TokenHash: existing.TokenHash, UserID: alice, DeviceID: "LAPTOP"})
		}},
		{"CreateAccessToken same refresh token", func(ctx context.Context, db storage.Database) error {
			return db.CreateAccessToken(ctx, storage.AccessToken{TokenHash: tokenHash("b"), UserID: alice, DeviceID: "LAPTOP", RefreshTokenHash: existing.RefreshTokenHash})
		}},
	}
	runErrorCases(t, db, cases, storage.ErrConflict)
	// The originals are untouched.
	wantToken(t, db, existing)
	keys, err := db.SigningKeys(ctx)
	noErr(t, "SigningKeys", err)
	wantEqual(t, "SigningKeys", keys, []storage.SigningKey{key})
	user, err := db.GetUser(ctx, alice)
	noErr(t, "GetUser", err)
	wantEqual(t, "GetUser(alice).CreatedTS", user.CreatedTS, baseTS)
}

// testInvalidInput checks that values the schema relies on being non-empty
// are refused, with an error that is neither sentinel.
func testInvalidInput(t *testing.T, open Opener) {
	db := openDB(t, open)
	mustCreateUser(t, db, alice)
	mustCreateDevice(t, db, alice, "PHONE")
	cases := []errorCase{
		{"CreateDevice empty device ID", func(ctx context.Context, db storage.Database) error {
			return db.CreateDevice(ctx, storage.Device{UserID: alice, DeviceID: ""})
		}},
		{"CreateAccessToken empty hash", func(ctx context.Context, db storage.Database) error {
			return db.CreateAccessToken(ctx, storage.AccessToken{UserID: alice, DeviceID: "PHONE"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(t.Context(), db)
			if err == nil || errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
				t.Errorf("got error %v, want a validation error", err)
			}
		})
	}
}

func runErrorCases(t *testing.T, db storage.Database, cases []errorCase, want error) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, tc.call(t.Context(), db), want)
		})
	}
}
