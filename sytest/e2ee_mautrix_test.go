//go:build goolm

// This scenario uses mautrix-go's crypto package with its pure-Go olm
// implementation (the goolm build tag); without the tag that package
// needs the C libolm. Run it with: go test -tags goolm -run TestE2EE ./sytest/

package sytest

import (
	"context"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// e2eeClient is a mautrix client with an olm machine, driven by hand:
// each sync feeds the machine and records what arrived.
type e2eeClient struct {
	t        *testing.T
	cli      *mautrix.Client
	mach     *crypto.OlmMachine
	state    mautrix.StateStore
	since    string
	toDevice map[string]int // to-device events received, by type
	timeline []*event.Event
	changed  []id.UserID // every device_lists.changed entry seen
}

func newE2EEClient(t *testing.T, cli *mautrix.Client) *e2eeClient {
	t.Helper()
	state := mautrix.NewMemoryStateStore()
	cli.StateStore = state
	mach := crypto.NewOlmMachine(cli, nil, crypto.NewMemoryStore(nil), state.(crypto.StateStore))
	if err := mach.Load(t.Context()); err != nil {
		t.Fatalf("olm machine: %v", err)
	}
	if err := mach.ShareKeys(t.Context(), 0); err != nil {
		t.Fatalf("ShareKeys (/keys/upload): %v", err)
	}
	return &e2eeClient{t: t, cli: cli, mach: mach, state: state, toDevice: map[string]int{}}
}

// sync runs one /sync and hands it to the olm machine.
func (c *e2eeClient) sync(timeoutMs int) *mautrix.RespSync {
	c.t.Helper()
	ctx := c.t.Context()
	resp, err := c.cli.SyncRequest(ctx, timeoutMs, c.since, "", false, "")
	if err != nil {
		c.t.Fatalf("sync: %v", err)
	}
	for roomID, room := range resp.Rooms.Join {
		c.applyState(ctx, roomID, room.State.Events)
		c.applyState(ctx, roomID, room.Timeline.Events)
		c.timeline = append(c.timeline, room.Timeline.Events...)
	}
	for _, evt := range resp.ToDevice.Events {
		c.toDevice[evt.Type.Type]++
	}
	c.changed = append(c.changed, resp.DeviceLists.Changed...)
	c.mach.ProcessSyncResponse(ctx, resp, c.since)
	c.since = resp.NextBatch
	return resp
}

func (c *e2eeClient) applyState(ctx context.Context, roomID id.RoomID, evs []*event.Event) {
	for _, evt := range evs {
		evt.RoomID = roomID
		if evt.StateKey != nil {
			evt.Type.Class = event.StateEventType
			_ = evt.Content.ParseRaw(evt.Type) // unknown types stay raw
			mautrix.UpdateStateStore(ctx, c.state, evt)
		}
	}
}

// syncUntil syncs until ok holds, failing after a bounded number of tries.
func (c *e2eeClient) syncUntil(what string, ok func() bool) {
	c.t.Helper()
	for range 15 {
		if ok() {
			return
		}
		c.sync(2000)
	}
	if !ok() {
		c.t.Fatalf("never happened: %s", what)
	}
}

// TestE2EEMessageExchange: alice and bob, each with a real olm machine,
// share an encrypted room; alice's megolm session reaches bob's device
// over olm-encrypted to-device messages, and bob decrypts her message.
// Device list changes reach the other user's /sync, and to-device
// messages arrive exactly once.
func TestE2EEMessageExchange(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		ctx := t.Context()
		alice := newE2EEClient(t, mautrixUser(t, s, "alice"))
		bob := newE2EEClient(t, mautrixUser(t, s, "bob"))

		created, err := alice.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Preset: "private_chat", Invite: []id.UserID{bob.cli.UserID},
			InitialState: []*event.Event{{Type: event.StateEncryption, Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}}}},
		})
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		room := created.RoomID
		if _, err := bob.cli.JoinRoomByID(ctx, room); err != nil {
			t.Fatalf("join: %v", err)
		}
		alice.sync(0)
		bob.sync(0)
		alice.syncUntil("alice sees bob joined", func() bool {
			m, _ := alice.state.GetMember(ctx, room, bob.cli.UserID)
			return m != nil && m.Membership == event.MembershipJoin
		})
		if enc, _ := alice.state.IsEncrypted(ctx, room); !enc {
			t.Fatal("the room is not encrypted in alice's state")
		}

		// /keys/query, /keys/claim and /sendToDevice (olm) happen here.
		exchangeEncrypted(t, alice, bob, room, "secret hello")

		checkDeviceListChange(t, s, alice, bob)
		checkToDeviceOnce(t, alice, bob)
	})
}

// decryptFirst decrypts the first encrypted timeline event bob has, "" if
// there is none yet or its key has not arrived.
// exchangeEncrypted has alice share a megolm session with bob (key query,
// one-time key claim, an olm to-device message), send text encrypted, and
// bob decrypt it; the room key must reach bob's device once, however often
// bob syncs.
func exchangeEncrypted(t *testing.T, alice, bob *e2eeClient, room id.RoomID, text string) {
	t.Helper()
	ctx := t.Context()
	if err := alice.mach.ShareGroupSession(ctx, room, []id.UserID{alice.cli.UserID, bob.cli.UserID}); err != nil {
		t.Fatalf("ShareGroupSession: %v", err)
	}
	encrypted, err := alice.mach.EncryptMegolmEvent(ctx, room, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: text})
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
	if body != text {
		t.Fatalf("decrypted %q, want %q", body, text)
	}
	bob.sync(0)
	bob.sync(0)
	if n := bob.toDevice[event.ToDeviceEncrypted.Type]; n != 1 {
		t.Errorf("bob's device got %d m.room.encrypted to-device messages, want exactly 1", n)
	}
}

func decryptFirst(t *testing.T, c *e2eeClient, room id.RoomID) string {
	for _, evt := range c.timeline {
		if evt.Type != event.EventEncrypted {
			continue
		}
		evt.RoomID = room
		if evt.Content.Parsed == nil {
			if err := evt.Content.ParseRaw(evt.Type); err != nil {
				t.Fatalf("parse encrypted event: %v", err)
			}
		}
		dec, err := c.mach.DecryptMegolmEvent(t.Context(), evt)
		if err != nil {
			return ""
		}
		msg, ok := dec.Content.Parsed.(*event.MessageEventContent)
		if !ok {
			t.Fatalf("decrypted content %T", dec.Content.Parsed)
		}
		return msg.Body
	}
	return ""
}

// checkDeviceListChange: bob logs in a second device and uploads its keys;
// alice's /sync lists bob in device_lists.changed.
func checkDeviceListChange(t *testing.T, s *harness.Server, alice, bob *e2eeClient) {
	t.Helper()
	alice.sync(0)
	alice.changed = nil
	cli, err := mautrix.NewClient(s.ClientURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.Login(t.Context(), &mautrix.ReqLogin{
		Type: mautrix.AuthTypePassword, Password: "bob-pw", StoreCredentials: true,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "bob"},
	})
	if err != nil {
		t.Fatalf("second login: %v", err)
	}
	newE2EEClient(t, cli) // uploads the new device's keys
	// The login and the key upload are two changes: alice's machine may
	// fetch bob's list between them, so it is asked until it has the keys.
	alice.syncUntil("bob's new device and keys reach alice", func() bool {
		if !slices.Contains(alice.changed, bob.cli.UserID) {
			return false
		}
		_, ok := alice.mach.LoadDevices(t.Context(), bob.cli.UserID)[cli.DeviceID]
		return ok
	})
}

// checkToDeviceOnce: a to-device message sent twice with one txnId
// reaches bob's device once.
func checkToDeviceOnce(t *testing.T, alice, bob *e2eeClient) {
	t.Helper()
	ctx := t.Context()
	before := bob.toDevice["org.warbler.test"]
	req := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{
		bob.cli.UserID: {bob.cli.DeviceID: {Raw: map[string]any{"n": 1}}},
	}}
	url := alice.cli.BuildClientURL("v3", "sendToDevice", "org.warbler.test", "txn-once")
	for range 2 {
		if _, err := alice.cli.MakeRequest(ctx, "PUT", url, req, nil); err != nil {
			t.Fatalf("sendToDevice: %v", err)
		}
	}
	bob.syncUntil("the to-device message arrives", func() bool { return bob.toDevice["org.warbler.test"] > before })
	bob.sync(0)
	bob.sync(0)
	if got := bob.toDevice["org.warbler.test"] - before; got != 1 {
		t.Errorf("the to-device message arrived %d times, want 1", got)
	}
}
