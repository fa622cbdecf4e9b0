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
		opts := harness.Options{Backend: backend, Federation: true, SharedCA: true, Env: []string{"WARBLER_RATE_LIMITS__ENABLED=false"}}
		a, b := harness.Start(t, opts), harness.Start(t, opts)
		ctx := t.Context()
		alice := newE2EEClient(t, mautrixUser(t, a, "alice"))
		bob := newE2EEClient(t, mautrixUser(t, b, "bob"))

		created, err := alice.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Preset: "private_chat", Invite: []id.UserID{bob.cli.UserID},
			InitialState: []*event.Event{{Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}}}},
		})
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		room := created.RoomID
		if _, err := bob.cli.JoinRoom(ctx, string(room), &mautrix.ReqJoinRoom{Via: []string{a.Name}}); err != nil {
			t.Fatalf("bob joins over federation: %v", err)
		}
		alice.sync(0)
		bob.sync(0)
		alice.syncUntil("alice sees bob joined", func() bool {
			m, _ := alice.state.GetMember(ctx, room, bob.cli.UserID)
			return m != nil && m.Membership == event.MembershipJoin
		})
		bob.syncUntil("bob sees the room is encrypted", func() bool {
			enc, _ := bob.state.IsEncrypted(ctx, room)
			return enc
		})

		// /keys/query and /keys/claim for bob go from A to B; the olm
		// message to bob's device goes as m.direct_to_device.
		if err := alice.mach.ShareGroupSession(ctx, room, []id.UserID{alice.cli.UserID, bob.cli.UserID}); err != nil {
			t.Fatalf("ShareGroupSession: %v", err)
		}
		encrypted, err := alice.mach.EncryptMegolmEvent(ctx, room, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: "secret across servers"})
		if err != nil {
			t.Fatalf("EncryptMegolmEvent: %v", err)
		}
		if _, err := alice.cli.SendMessageEvent(ctx, room, event.EventEncrypted, encrypted); err != nil {
			t.Fatalf("send: %v", err)
		}
		var body string
		bob.syncUntil("bob decrypts alice's message", func() bool {
			body = decryptFirst(t, bob, room)
			return body != ""
		})
		if body != "secret across servers" {
			t.Fatalf("decrypted %q", body)
		}
		bob.sync(0)
		bob.sync(0)
		if n := bob.toDevice[event.ToDeviceEncrypted.Type]; n != 1 {
			t.Errorf("bob's device got %d m.room.encrypted to-device messages, want exactly 1", n)
		}

		checkDeviceListChange(t, b, alice, bob)
		checkToDeviceOnce(t, alice, bob)
	})
}
