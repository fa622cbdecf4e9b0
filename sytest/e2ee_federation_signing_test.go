//go:build goolm

package sytest

import (
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestFederatedCrossSigningAndOutage: alice on A and bob on B share a
// room. Bob's new device reaches alice's device_lists.changed even though
// it never uploads keys; alice's user-signing key signs bob's master key
// (which A fetches from B), and only alice sees that signature; once B is
// down, alice's key query still answers bob from A's cache, with B in
// failures.
func TestFederatedCrossSigningAndOutage(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b, alice, bob := federatedE2EEPair(t, backend)
		ctx := t.Context()
		carol := mautrixUser(t, a, "carol")
		created, err := alice.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		room := created.RoomID
		joinOverFederation(t, alice, bob, room, a.Name)

		publishCrossSigning(t, alice)
		bobKeys := publishCrossSigning(t, bob)
		alice.syncUntil("bob's cross-signing keys reach alice", func() bool { return slices.Contains(alice.changed, bob.cli.UserID) })
		alice.sync(0)
		alice.changed = nil

		// A device that never uploads keys is still a device list change.
		keyless, err := mautrix.NewClient(b.ClientURL, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keyless.Login(ctx, &mautrix.ReqLogin{
			Type: mautrix.AuthTypePassword, Password: "bob-pw",
			Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "bob"},
		}); err != nil {
			t.Fatalf("keyless login: %v", err)
		}
		alice.syncUntil("bob's keyless device reaches alice's device_lists.changed", func() bool {
			return slices.Contains(alice.changed, bob.cli.UserID)
		})

		bobMaster := bobKeys.MasterKey.PublicKey()
		if err := alice.mach.SignUser(ctx, bob.cli.UserID, bobMaster); err != nil {
			t.Fatalf("alice signs bob's master key: %v", err)
		}
		if sigs := masterKeySignatures(t, alice.cli, bob.cli.UserID); sigs[alice.cli.UserID.String()] == nil || sigs[bob.cli.UserID.String()] == nil {
			t.Errorf("alice sees signatures %v on bob's master key, want hers and bob's", sigs)
		}
		if sigs := masterKeySignatures(t, carol, bob.cli.UserID); sigs[alice.cli.UserID.String()] != nil {
			t.Errorf("carol sees alice's signature of bob's master key: %v", sigs)
		}

		b.Stop()
		var out struct {
			Failures   map[string]any            `json:"failures"`
			DeviceKeys map[string]map[string]any `json:"device_keys"`
		}
		body := map[string]any{"device_keys": map[string]any{bob.cli.UserID.String(): []string{}, "@nobody:" + b.Name: []string{}}, "timeout": 5000}
		if _, err := alice.cli.MakeRequest(ctx, "POST", alice.cli.BuildClientURL("v3", "keys", "query"), body, &out); err != nil {
			t.Fatalf("keys/query with B down: %v", err)
		}
		if _, ok := out.Failures[b.Name]; !ok {
			t.Errorf("failures %v, want %s", out.Failures, b.Name)
		}
		if out.DeviceKeys[bob.cli.UserID.String()][bob.cli.DeviceID.String()] == nil {
			t.Errorf("device_keys %v: bob's cached device is missing", out.DeviceKeys)
		}
	})
}

// publishCrossSigning makes and uploads c's cross-signing keys (the
// first upload needs no interactive auth).
func publishCrossSigning(t *testing.T, c *e2eeClient) *crypto.CrossSigningKeysCache {
	t.Helper()
	keys, err := c.mach.GenerateCrossSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.mach.PublishCrossSigningKeys(t.Context(), keys, nil); err != nil {
		t.Fatalf("publish cross-signing keys of %s: %v", c.cli.UserID, err)
	}
	return keys
}

// masterKeySignatures is user's master key's signatures as cli's /keys/query shows them.
func masterKeySignatures(t *testing.T, cli *mautrix.Client, user id.UserID) map[string]any {
	t.Helper()
	var out struct {
		MasterKeys map[string]struct {
			Signatures map[string]any `json:"signatures"`
		} `json:"master_keys"`
	}
	body := map[string]any{"device_keys": map[string]any{user.String(): []string{}}}
	if _, err := cli.MakeRequest(t.Context(), "POST", cli.BuildClientURL("v3", "keys", "query"), body, &out); err != nil {
		t.Fatalf("keys/query: %v", err)
	}
	return out.MasterKeys[user.String()].Signatures
}
