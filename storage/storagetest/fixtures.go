package storagetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// baseTS is a realistic Unix-millisecond timestamp, large enough to catch
// a column that cannot hold 64-bit values.
const baseTS int64 = 1_760_000_000_000

// tokenHash stands in for the SHA-256 a caller computes from a random token.
func tokenHash(name string) []byte {
	sum := sha256.Sum256([]byte(name))
	return sum[:]
}

func mustCreateUser(t *testing.T, db storage.Database, userID string) storage.User {
	t.Helper()
	u := storage.User{UserID: userID, PasswordHash: "$argon2id$" + userID, CreatedTS: baseTS}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", userID, err)
	}
	return u
}

func mustCreateDevice(t *testing.T, db storage.Database, userID, deviceID string) storage.Device {
	t.Helper()
	d := storage.Device{UserID: userID, DeviceID: deviceID, DisplayName: "phone " + deviceID, CreatedTS: baseTS}
	if err := db.CreateDevice(t.Context(), d); err != nil {
		t.Fatalf("CreateDevice(%s, %s): %v", userID, deviceID, err)
	}
	return d
}

// mustCreateToken stores a token for the device and returns it; name makes
// its hash unique.
func mustCreateToken(t *testing.T, db storage.Database, userID, deviceID, name string) storage.AccessToken {
	t.Helper()
	tok := storage.AccessToken{TokenHash: tokenHash(userID + "|" + deviceID + "|" + name), UserID: userID, DeviceID: deviceID, CreatedTS: baseTS}
	if err := db.CreateAccessToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateAccessToken(%s, %s): %v", userID, deviceID, err)
	}
	return tok
}

// wantToken fails unless the token is stored exactly as want.
func wantToken(t *testing.T, db storage.Database, want storage.AccessToken) {
	t.Helper()
	got, err := db.LookupAccessToken(t.Context(), want.TokenHash)
	if err != nil {
		t.Fatalf("LookupAccessToken(%s/%s): %v", want.UserID, want.DeviceID, err)
	}
	wantEqual(t, "LookupAccessToken", got, want)
}

// wantNoToken fails unless the token is gone.
func wantNoToken(t *testing.T, db storage.Database, tok storage.AccessToken) {
	t.Helper()
	_, err := db.LookupAccessToken(t.Context(), tok.TokenHash)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LookupAccessToken(%s/%s) after removal: got error %v, want ErrNotFound", tok.UserID, tok.DeviceID, err)
	}
}

// wantDeviceIDs fails unless the user's devices are exactly ids, in order.
func wantDeviceIDs(t *testing.T, db storage.Database, userID string, ids ...string) {
	t.Helper()
	devices, err := db.ListDevices(t.Context(), userID)
	if err != nil {
		t.Fatalf("ListDevices(%s): %v", userID, err)
	}
	got := []string{}
	for _, d := range devices {
		got = append(got, d.DeviceID)
	}
	if want := append([]string{}, ids...); !reflect.DeepEqual(got, want) {
		t.Errorf("ListDevices(%s) = %q, want %q", userID, got, want)
	}
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

func show(v any) string { return fmt.Sprintf("%+v", v) }

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: got error %v, want %v", what, got, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
