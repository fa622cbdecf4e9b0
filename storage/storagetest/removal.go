package storagetest

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// world is a small population for the removal tests: alice and bob each
// have a PHONE and a LAPTOP (the same device IDs, so a query that forgets
// the user shows up) and one token per device.
type world struct {
	db     storage.Database
	tokens map[string]storage.AccessToken // by "user/device"
}

const (
	alice = "@alice:example.org"
	bob   = "@bob:example.org"
)

func newWorld(t *testing.T, open Opener) world {
	t.Helper()
	w := world{db: openDB(t, open), tokens: map[string]storage.AccessToken{}}
	for _, user := range []string{alice, bob} {
		mustCreateUser(t, w.db, user)
		for _, device := range []string{"LAPTOP", "PHONE"} {
			mustCreateDevice(t, w.db, user, device)
			w.tokens[user+"/"+device] = mustCreateToken(t, w.db, user, device, "1")
		}
	}
	return w
}

// want checks which devices each user has left and that exactly their
// tokens survive.
func (w world) want(t *testing.T, devicesLeft map[string][]string) {
	t.Helper()
	surviving := map[string]bool{}
	for user, devices := range devicesLeft {
		wantDeviceIDs(t, w.db, user, devices...)
		for _, device := range devices {
			surviving[user+"/"+device] = true
		}
	}
	w.wantTokens(t, surviving)
}

// wantTokens checks that exactly the tokens of the named devices survive.
func (w world) wantTokens(t *testing.T, surviving map[string]bool) {
	t.Helper()
	for key, tok := range w.tokens {
		if surviving[key] {
			wantToken(t, w.db, tok)
		} else {
			wantNoToken(t, w.db, tok)
		}
	}
}

func testDeleteDevice(t *testing.T, open Opener) {
	w := newWorld(t, open)
	second := mustCreateToken(t, w.db, alice, "PHONE", "2") // a device may hold several tokens
	noErr(t, "DeleteDevice", w.db.DeleteDevice(t.Context(), alice, "PHONE"))
	w.want(t, map[string][]string{alice: {"LAPTOP"}, bob: {"LAPTOP", "PHONE"}})
	wantNoToken(t, w.db, second)
}

func testDeleteDevices(t *testing.T, open Opener) {
	w := newWorld(t, open)
	mustCreateDevice(t, w.db, alice, "TABLET")
	// Unknown IDs among the list are ignored.
	err := w.db.DeleteDevices(t.Context(), alice, []string{"PHONE", "NOSUCH", "TABLET"})
	noErr(t, "DeleteDevices", err)
	w.want(t, map[string][]string{alice: {"LAPTOP"}, bob: {"LAPTOP", "PHONE"}})

	noErr(t, "DeleteDevices(none)", w.db.DeleteDevices(t.Context(), alice, nil))
	noErr(t, "DeleteDevices(unknown user)", w.db.DeleteDevices(t.Context(), "@nobody:example.org", []string{"PHONE"}))
	w.want(t, map[string][]string{alice: {"LAPTOP"}, bob: {"LAPTOP", "PHONE"}})
}

func testDeleteUserAccessTokens(t *testing.T, open Opener) {
	ctx := t.Context()
	t.Run("except one device", func(t *testing.T) {
		w := newWorld(t, open)
		noErr(t, "DeleteUserAccessTokens", w.db.DeleteUserAccessTokens(ctx, alice, "PHONE"))
		w.wantTokens(t, map[string]bool{alice + "/PHONE": true, bob + "/LAPTOP": true, bob + "/PHONE": true})
		wantDeviceIDs(t, w.db, alice, "LAPTOP", "PHONE") // devices stay
	})
	t.Run("all devices", func(t *testing.T) {
		w := newWorld(t, open)
		noErr(t, "DeleteUserAccessTokens", w.db.DeleteUserAccessTokens(ctx, alice, ""))
		w.wantTokens(t, map[string]bool{bob + "/LAPTOP": true, bob + "/PHONE": true})
		wantDeviceIDs(t, w.db, alice, "LAPTOP", "PHONE")
	})
	t.Run("unknown user", func(t *testing.T) {
		w := newWorld(t, open)
		noErr(t, "DeleteUserAccessTokens", w.db.DeleteUserAccessTokens(ctx, "@nobody:example.org", ""))
		w.wantTokens(t, map[string]bool{alice + "/LAPTOP": true, alice + "/PHONE": true, bob + "/LAPTOP": true, bob + "/PHONE": true})
	})
}

func testDeactivateUser(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ctx := t.Context()
	noErr(t, "DeactivateUser", w.db.DeactivateUser(ctx, alice))
	w.want(t, map[string][]string{alice: {}, bob: {"LAPTOP", "PHONE"}})

	got, err := w.db.GetUser(ctx, alice)
	noErr(t, "GetUser after deactivation", err)
	want := storage.User{UserID: alice, Deactivated: true, CreatedTS: baseTS} // password hash cleared
	wantEqual(t, "GetUser after deactivation", got, want)

	noErr(t, "DeactivateUser again", w.db.DeactivateUser(ctx, alice))
	count, err := w.db.CountUsers(ctx)
	noErr(t, "CountUsers", err)
	wantEqual(t, "CountUsers counts deactivated users", count, 2)
}
