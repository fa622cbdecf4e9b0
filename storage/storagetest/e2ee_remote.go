package storagetest

import (
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testE2EERemoteDeviceLists: a resync tracks a user and replaces the
// list; updates and cross-signing keys apply only to tracked users; each
// change moves the device list stream; stale and untrack work.
func testE2EERemoteDeviceLists(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const bob = "@bob:remote"
	if _, err := db.UpdateRemoteDevice(ctx, bob, 3, storage.RemoteDevice{DeviceID: "D1"}, false); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("update of an untracked user: %v, want ErrNotFound", err)
	}
	if _, err := db.SetRemoteCrossSigningKeys(ctx, bob, map[string][]byte{"master": []byte(`{}`)}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cross-signing of an untracked user: %v, want ErrNotFound", err)
	}
	if lists, err := db.RemoteDeviceLists(ctx, []string{bob}); err != nil || len(lists) != 0 {
		t.Fatalf("untracked user listed: %v %v", lists, err)
	}
	p1, err := db.ReplaceRemoteDeviceList(ctx, storage.RemoteDeviceList{UserID: bob, StreamID: 5,
		Devices:      []storage.RemoteDevice{{DeviceID: "D1", DisplayName: "phone", KeyJSON: []byte(`{"k":1}`)}, {DeviceID: "D0"}},
		CrossSigning: map[string][]byte{"master": []byte(`{"m":1}`)}})
	if err != nil || p1 <= 0 {
		t.Fatalf("ReplaceRemoteDeviceList: %d %v", p1, err)
	}
	list := remoteList(t, db, bob)
	if list.StreamID != 5 || list.Stale || len(list.Devices) != 2 || list.Devices[1].DisplayName != "phone" ||
		string(list.Devices[1].KeyJSON) != `{"k":1}` || list.Devices[0].KeyJSON != nil || string(list.CrossSigning["master"]) != `{"m":1}` {
		t.Fatalf("after resync: %+v", list)
	}
	p2, err := db.UpdateRemoteDevice(ctx, bob, 7, storage.RemoteDevice{DeviceID: "D2", KeyJSON: []byte(`{"k":2}`)}, false)
	if err != nil || p2 <= p1 {
		t.Fatalf("UpdateRemoteDevice: %d %v", p2, err)
	}
	p3, err := db.UpdateRemoteDevice(ctx, bob, 8, storage.RemoteDevice{DeviceID: "D0"}, true)
	if err != nil || p3 <= p2 {
		t.Fatalf("delete: %d %v", p3, err)
	}
	p4, err := db.SetRemoteCrossSigningKeys(ctx, bob, map[string][]byte{"self_signing": []byte(`{"s":1}`)})
	if err != nil || p4 <= p3 {
		t.Fatalf("SetRemoteCrossSigningKeys: %d %v", p4, err)
	}
	list = remoteList(t, db, bob)
	if list.StreamID != 8 || len(list.Devices) != 2 || list.Devices[0].DeviceID != "D1" || list.Devices[1].DeviceID != "D2" ||
		len(list.CrossSigning) != 2 {
		t.Fatalf("after updates: %+v", list)
	}
	changes, err := db.DeviceListChanges(ctx, p1-1, p4, 10)
	if err != nil || len(changes) != 4 || changes[0].UserID != bob || changes[0].Kind != storage.DeviceListKeys {
		t.Fatalf("stream: %+v %v", changes, err)
	}
	if err := db.MarkRemoteDeviceListStale(ctx, bob); err != nil || !remoteList(t, db, bob).Stale {
		t.Fatalf("MarkRemoteDeviceListStale: %v", err)
	}
	// A resync clears stale; nil cross-signing keys are kept.
	if _, err := db.ReplaceRemoteDeviceList(ctx, storage.RemoteDeviceList{UserID: bob, StreamID: 9}); err != nil {
		t.Fatal(err)
	}
	if list = remoteList(t, db, bob); list.Stale || len(list.Devices) != 0 || len(list.CrossSigning) != 2 || list.StreamID != 9 {
		t.Fatalf("after second resync: %+v", list)
	}
	if err := db.UntrackRemoteUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if lists, err := db.RemoteDeviceLists(ctx, []string{bob}); err != nil || len(lists) != 0 {
		t.Fatalf("untracked user still listed: %v %v", lists, err)
	}
	if err := db.MarkRemoteDeviceListStale(ctx, bob); err != nil {
		t.Fatalf("marking an untracked user: %v", err)
	}
}

func remoteList(t *testing.T, db storage.Database, userID string) storage.RemoteDeviceList {
	t.Helper()
	lists, err := db.RemoteDeviceLists(t.Context(), []string{userID})
	if err != nil {
		t.Fatal(err)
	}
	list, ok := lists[userID]
	if !ok {
		t.Fatalf("%s is not tracked", userID)
	}
	return list
}

// testE2EELocalDeviceListIDs: the swap returns the previous ID and never
// moves backwards; it survives a reopen.
func testE2EELocalDeviceListIDs(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	for _, c := range []struct{ set, wantPrev, wantAfter int64 }{
		{4, 0, 4}, {9, 4, 9}, {6, 9, 9}, {12, 9, 12},
	} {
		prev, err := db.SwapLocalDeviceListID(ctx, "@a:x", c.set)
		if err != nil || prev != c.wantPrev {
			t.Fatalf("swap %d: prev %d %v, want %d", c.set, prev, err, c.wantPrev)
		}
		if got, err := db.LocalDeviceListID(ctx, "@a:x"); err != nil || got != c.wantAfter {
			t.Fatalf("after swap %d: %d %v, want %d", c.set, got, err, c.wantAfter)
		}
	}
	if got, err := db.LocalDeviceListID(ctx, "@other:x"); err != nil || got != 0 {
		t.Fatalf("unknown user: %d %v", got, err)
	}
	reopened := openDB(t, open)
	if got, err := reopened.LocalDeviceListID(ctx, "@a:x"); err != nil || got != 12 {
		t.Fatalf("after reopen: %d %v", got, err)
	}
}
