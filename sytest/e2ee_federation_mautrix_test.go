//go:build goolm

package sytest

import (
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestFederatedE2EEMessageExchange: alice on A and bob on B, each with a
// real olm machine, share an encrypted room. Alice's client finds bob's
// device keys and claims a one-time key through A (which asks B over
// federation), her olm-encrypted room key reaches bob's device as an
// m.direct_to_device EDU, and bob decrypts her message. Bob's new device
// reaches alice's /sync (m.device_list_update, then a resync of bob's
// list), and a to-device message from A to B arrives exactly once.
func TestFederatedE2EEMessageExchange(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b, alice, bob := federatedE2EEPair(t, backend)
		ctx := t.Context()

		created, err := alice.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Preset: "private_chat", Invite: []id.UserID{bob.cli.UserID},
			InitialState: []*event.Event{{Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}}}},
		})
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		room := created.RoomID
		joinOverFederation(t, alice, bob, room, a.Name)
		bob.sync(0)
		bob.syncUntil("bob sees the room is encrypted", func() bool {
			enc, _ := bob.state.IsEncrypted(ctx, room)
			return enc
		})

		// /keys/query and /keys/claim for bob go from A to B; the olm
		// message to bob's device goes as m.direct_to_device.
		exchangeEncrypted(t, alice, bob, room, "secret across servers")

		checkDeviceListChange(t, b, alice, bob)
		checkToDeviceOnce(t, alice, bob)
	})
}

// federatedE2EEPair starts two federating servers, A and B, and gives
// alice on A and bob on B real olm machines.
func federatedE2EEPair(t *testing.T, backend harness.Backend) (a, b *harness.Server, alice, bob *e2eeClient) {
	t.Helper()
	opts := harness.Options{Backend: backend, Federation: true, SharedCA: true, Env: []string{"WARBLER_RATE_LIMITS__ENABLED=false"}}
	a, b = harness.Start(t, opts), harness.Start(t, opts)
	return a, b, newE2EEClient(t, mautrixUser(t, a, "alice")), newE2EEClient(t, mautrixUser(t, b, "bob"))
}

// joinOverFederation has bob join alice's room through via and waits until
// alice's client sees him joined.
func joinOverFederation(t *testing.T, alice, bob *e2eeClient, room id.RoomID, via string) {
	t.Helper()
	ctx := t.Context()
	if _, err := bob.cli.JoinRoom(ctx, string(room), &mautrix.ReqJoinRoom{Via: []string{via}}); err != nil {
		t.Fatalf("bob joins over federation: %v", err)
	}
	alice.syncUntil("alice sees bob joined", func() bool {
		m, _ := alice.state.GetMember(ctx, room, bob.cli.UserID)
		return m != nil && m.Membership == event.MembershipJoin
	})
}
