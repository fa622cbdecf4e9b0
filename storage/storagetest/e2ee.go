package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

var e2eeTests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"E2EEDeviceKeys", testE2EEDeviceKeys},
	{"E2EEOneTimeKeys", testE2EEOneTimeKeys},
	{"E2EEClaimOnceConcurrently", testE2EEClaimOnceConcurrently},
	{"E2EECrossSigning", testE2EECrossSigning},
	{"E2EEToDevice", testE2EEToDevice},
	{"E2EEBackup", testE2EEBackup},
	{"E2EERemoteDeviceLists", testE2EERemoteDeviceLists},
	{"E2EELocalDeviceListIDs", testE2EELocalDeviceListIDs},
}

// testE2EEDeviceKeys: device keys come back per user and device; only a
// change moves the device list stream; deleting a device drops its keys.
func testE2EEDeviceKeys(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	p1, err := db.SetDeviceKeys(ctx, "@a:x", "D1", []byte(`{"k":1}`))
	if err != nil || p1 <= 0 {
		t.Fatalf("SetDeviceKeys: %d %v", p1, err)
	}
	if same, err := db.SetDeviceKeys(ctx, "@a:x", "D1", []byte(`{"k":1}`)); err != nil || same != 0 {
		t.Errorf("unchanged keys moved the stream: %d %v", same, err)
	}
	p2, err := db.SetDeviceKeys(ctx, "@a:x", "D2", []byte(`{"k":2}`))
	if err != nil || p2 <= p1 {
		t.Fatalf("second device: %d %v (first %d)", p2, err, p1)
	}
	keys, err := db.DeviceKeys(ctx, []string{"@a:x", "@nobody:x"})
	if err != nil || len(keys) != 1 || string(keys["@a:x"]["D2"]) != `{"k":2}` || len(keys["@a:x"]) != 2 {
		t.Fatalf("DeviceKeys: %v %v", keys, err)
	}
	if pos, err := db.DeviceListPosition(ctx); err != nil || pos != p2 {
		t.Errorf("DeviceListPosition %d %v, want %d", pos, err, p2)
	}
	p3, err := db.DeleteDeviceKeys(ctx, "@a:x", "D1")
	if err != nil || p3 <= p2 {
		t.Fatalf("DeleteDeviceKeys: %d %v", p3, err)
	}
	keys, _ = db.DeviceKeys(ctx, []string{"@a:x"})
	if _, ok := keys["@a:x"]["D1"]; ok || len(keys["@a:x"]) != 1 {
		t.Errorf("after delete: %v", keys)
	}
	p4, err := db.AddDeviceListChange(ctx, "@b:x", "!r:x", storage.DeviceListJoin)
	if err != nil || p4 <= p3 {
		t.Fatalf("AddDeviceListChange: %d %v", p4, err)
	}
	changes, err := db.DeviceListChanges(ctx, p1, p4, 10)
	if err != nil || len(changes) != 3 {
		t.Fatalf("DeviceListChanges: %+v %v", changes, err)
	}
	last := changes[2]
	if last.Pos != p4 || last.UserID != "@b:x" || last.RoomID != "!r:x" || last.Kind != storage.DeviceListJoin {
		t.Errorf("last change %+v", last)
	}
	if limited, _ := db.DeviceListChanges(ctx, 0, p4, 2); len(limited) != 2 || limited[0].Pos != p1 {
		t.Errorf("limited changes %+v", limited)
	}
	// Keys and stream positions survive a restart.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, open)
	if pos, err := db.DeviceListPosition(ctx); err != nil || pos != p4 {
		t.Errorf("position after reopen %d %v, want %d", pos, err, p4)
	}
	if keys, _ := db.DeviceKeys(ctx, []string{"@a:x"}); string(keys["@a:x"]["D2"]) != `{"k":2}` {
		t.Errorf("keys after reopen %v", keys)
	}
}

// testE2EEOneTimeKeys: uploads count by algorithm, a key ID is never
// silently replaced, fallback keys are handed out when one-time keys run
// out and reported used.
func testE2EEOneTimeKeys(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	keys := []storage.OneTimeKey{{KeyID: "signed_curve25519:A", KeyJSON: []byte(`{"key":"a"}`)}, {KeyID: "signed_curve25519:B", KeyJSON: []byte(`{"key":"b"}`)}, {KeyID: "curve25519:C", KeyJSON: []byte(`"c"`)}}
	if err := db.AddOneTimeKeys(ctx, "@a:x", "D", keys); err != nil {
		t.Fatal(err)
	}
	if err := db.AddOneTimeKeys(ctx, "@a:x", "D", keys[:1]); err != nil {
		t.Errorf("re-upload of the same key: %v", err)
	}
	clash := []storage.OneTimeKey{{KeyID: "signed_curve25519:Z", KeyJSON: []byte(`{"key":"z"}`)}, {KeyID: "signed_curve25519:A", KeyJSON: []byte(`{"key":"other"}`)}}
	if err := db.AddOneTimeKeys(ctx, "@a:x", "D", clash); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("a different key under a used ID: %v, want ErrConflict", err)
	}
	counts, err := db.OneTimeKeyCounts(ctx, "@a:x", "D")
	if err != nil || counts["signed_curve25519"] != 2 || counts["curve25519"] != 1 || len(counts) != 2 {
		t.Fatalf("counts %v %v (the failed upload must store nothing)", counts, err)
	}
	// Claimed in upload order: this later key comes after A and B.
	if err := db.AddOneTimeKeys(ctx, "@a:x", "D", []storage.OneTimeKey{{KeyID: "signed_curve25519:0", KeyJSON: []byte(`{"key":"0"}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetFallbackKeys(ctx, "@a:x", "D", []storage.OneTimeKey{{KeyID: "signed_curve25519:F", KeyJSON: []byte(`{"key":"f"}`)}}); err != nil {
		t.Fatal(err)
	}
	if types, err := db.UnusedFallbackKeyTypes(ctx, "@a:x", "D"); err != nil || !slices.Equal(types, []string{"signed_curve25519"}) {
		t.Errorf("unused fallback types %v %v", types, err)
	}
	claim := []storage.KeyClaim{{UserID: "@a:x", DeviceID: "D", Algorithm: "signed_curve25519"}}
	var got []string
	for range 5 {
		c, err := db.ClaimKeys(ctx, claim)
		if err != nil || len(c) != 1 {
			t.Fatalf("claim: %+v %v", c, err)
		}
		got = append(got, c[0].KeyID)
	}
	if want := []string{"signed_curve25519:A", "signed_curve25519:B", "signed_curve25519:0", "signed_curve25519:F", "signed_curve25519:F"}; !slices.Equal(got, want) {
		t.Errorf("claimed %v, want %v", got, want)
	}
	if types, _ := db.UnusedFallbackKeyTypes(ctx, "@a:x", "D"); len(types) != 0 {
		t.Errorf("fallback key still unused after a claim: %v", types)
	}
	if c, err := db.ClaimKeys(ctx, []storage.KeyClaim{{UserID: "@a:x", DeviceID: "D", Algorithm: "nope"}, {UserID: "@b:x", DeviceID: "E", Algorithm: "curve25519"}}); err != nil || len(c) != 0 {
		t.Errorf("claims of nothing: %+v %v", c, err)
	}
	if _, err := db.DeleteDeviceKeys(ctx, "@a:x", "D"); err != nil {
		t.Fatal(err)
	}
	if counts, _ := db.OneTimeKeyCounts(ctx, "@a:x", "D"); len(counts) != 0 {
		t.Errorf("one-time keys survive their device: %v", counts)
	}
}

// testE2EEClaimOnceConcurrently: many claimers at once each get a
// different key, and no key is handed out twice.
func testE2EEClaimOnceConcurrently(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const nKeys, claimers = 20, 8
	var keys []storage.OneTimeKey
	for i := range nKeys {
		keys = append(keys, storage.OneTimeKey{KeyID: fmt.Sprintf("signed_curve25519:K%02d", i), KeyJSON: []byte(fmt.Sprintf(`{"key":"%d"}`, i))})
	}
	if err := db.AddOneTimeKeys(ctx, "@a:x", "D", keys); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for range claimers {
		wg.Go(func() {
			for range nKeys / claimers * 2 {
				c, err := db.ClaimKeys(ctx, []storage.KeyClaim{{UserID: "@a:x", DeviceID: "D", Algorithm: "signed_curve25519"}})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, k := range c {
					seen[k.KeyID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != nKeys {
		t.Errorf("%d distinct keys claimed, want %d", len(seen), nKeys)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("key %s claimed %d times", id, n)
		}
	}
}

// testE2EECrossSigning: keys by type, signatures by target, and a new
// master key drops the signatures of the old one.
func testE2EECrossSigning(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	first := map[string][]byte{"master": []byte(`{"m":1}`), "self_signing": []byte(`{"s":1}`)}
	p1, err := db.SetCrossSigningKeys(ctx, "@a:x", first)
	if err != nil || p1 <= 0 {
		t.Fatalf("SetCrossSigningKeys: %d %v", p1, err)
	}
	got, err := db.CrossSigningKeys(ctx, []string{"@a:x", "@b:x"})
	if err != nil || len(got) != 1 || string(got["@a:x"]["self_signing"]) != `{"s":1}` {
		t.Fatalf("CrossSigningKeys %v %v", got, err)
	}
	sig := storage.KeySignature{SignerUserID: "@a:x", SignerKeyID: "ed25519:S", TargetUserID: "@a:x", TargetKeyID: "D1", Signature: "sig"}
	p2, err := db.AddKeySignatures(ctx, []storage.KeySignature{sig, {SignerUserID: "@a:x", SignerKeyID: "ed25519:U", TargetUserID: "@b:x", TargetKeyID: "M", Signature: "s2"}})
	if err != nil || p2 <= p1 {
		t.Fatalf("AddKeySignatures %d %v", p2, err)
	}
	sigs, err := db.KeySignatures(ctx, []string{"@a:x"})
	if err != nil || len(sigs) != 1 || sigs[0] != sig {
		t.Fatalf("KeySignatures %+v %v", sigs, err)
	}
	if _, err := db.SetCrossSigningKeys(ctx, "@a:x", map[string][]byte{"master": []byte(`{"m":2}`)}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"@a:x", "@b:x"} {
		if sigs, _ := db.KeySignatures(ctx, []string{u}); len(sigs) != 0 {
			t.Errorf("signatures by or of %s's old keys kept: %+v", u, sigs)
		}
	}
	got, _ = db.CrossSigningKeys(ctx, []string{"@a:x"})
	if string(got["@a:x"]["master"]) != `{"m":2}` || string(got["@a:x"]["self_signing"]) != `{"s":1}` {
		t.Errorf("after a new master key: %v", got)
	}
}

// testE2EEToDevice: a message waits for its device until a sync
// acknowledges it, a repeated txnID stores nothing, and reads are bounded.
func testE2EEToDevice(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	msg := func(device, body string) storage.ToDeviceMessage {
		return storage.ToDeviceMessage{UserID: "@b:x", DeviceID: device, Type: "m.test", Content: []byte(`{"body":"` + body + `"}`)}
	}
	p1, dup, err := db.SendToDevice(ctx, "@a:x", "A", "t1", 1000, 0, []storage.ToDeviceMessage{msg("B1", "one"), msg("B2", "one")})
	if err != nil || dup || p1 <= 0 {
		t.Fatalf("SendToDevice: %d %v %v", p1, dup, err)
	}
	if again, dup, err := db.SendToDevice(ctx, "@a:x", "A", "t1", 1001, 0, []storage.ToDeviceMessage{msg("B1", "again")}); err != nil || !dup || again != 0 {
		t.Errorf("repeated txn: %d %v %v", again, dup, err)
	}
	if _, dup, _ := db.SendToDevice(ctx, "@a:x", "OTHER", "t1", 1002, 0, []storage.ToDeviceMessage{msg("B1", "other device")}); dup {
		t.Error("another sending device's txn ID counted as a repeat")
	}
	p3, _, err := db.SendToDevice(ctx, "@a:x", "A", "t3", 1003, 0, []storage.ToDeviceMessage{msg("B1", "three")})
	if err != nil {
		t.Fatal(err)
	}
	if pos, _ := db.ToDevicePosition(ctx); pos != p3 {
		t.Errorf("position %d, want %d", pos, p3)
	}
	all, err := db.ToDeviceMessages(ctx, "@b:x", "B1", 0, p3, 100)
	if err != nil || len(all) != 3 || string(all[0].Content) != `{"body":"one"}` || all[0].Sender != "@a:x" || all[0].Pos != p1 {
		t.Fatalf("messages %+v %v", all, err)
	}
	if first, _ := db.ToDeviceMessages(ctx, "@b:x", "B1", 0, p3, 1); len(first) != 1 || first[0].Pos != p1 {
		t.Errorf("bounded read %+v", first)
	}
	// The sync that read up to p1 is acknowledged by the next one.
	if err := db.DeleteToDeviceMessages(ctx, "@b:x", "B1", p1); err != nil {
		t.Fatal(err)
	}
	rest, _ := db.ToDeviceMessages(ctx, "@b:x", "B1", 0, p3, 100)
	if len(rest) != 2 || rest[0].Pos <= p1 {
		t.Errorf("after acknowledging %d: %+v", p1, rest)
	}
	if b2, _ := db.ToDeviceMessages(ctx, "@b:x", "B2", 0, p3, 100); len(b2) != 1 {
		t.Errorf("another device's acknowledgement removed B2's message: %+v", b2)
	}
	// An expired txn ID may be used again.
	if _, dup, _ := db.SendToDevice(ctx, "@a:x", "A", "t1", 5000, 4000, []storage.ToDeviceMessage{msg("B1", "late")}); dup {
		t.Error("expired txn ID still counted as a repeat")
	}
}

// testE2EEBackup: versions, the replacement rules, etag and count, and
// writes to an old version refused.
func testE2EEBackup(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	if _, err := db.GetBackupVersion(ctx, "@a:x", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("no backup yet: %v", err)
	}
	v1, err := db.CreateBackupVersion(ctx, "@a:x", "alg", []byte(`{"a":1}`))
	if err != nil || v1 != "1" {
		t.Fatalf("CreateBackupVersion %q %v", v1, err)
	}
	key := storage.BackupKey{RoomID: "!r:x", SessionID: "s1", FirstMessageIndex: 5, ForwardedCount: 1, SessionData: []byte(`{"d":1}`)}
	etag1, count, err := db.PutBackupKeys(ctx, "@a:x", v1, []storage.BackupKey{key})
	if err != nil || count != 1 {
		t.Fatalf("PutBackupKeys %q %d %v", etag1, count, err)
	}
	worse := key
	worse.FirstMessageIndex, worse.SessionData = 9, []byte(`{"d":"worse"}`)
	if etag, _, _ := db.PutBackupKeys(ctx, "@a:x", v1, []storage.BackupKey{worse}); etag != etag1 {
		t.Errorf("a worse key changed the etag %q → %q", etag1, etag)
	}
	verified := worse
	verified.IsVerified, verified.SessionData = true, []byte(`{"d":"verified"}`)
	etag2, _, _ := db.PutBackupKeys(ctx, "@a:x", v1, []storage.BackupKey{verified})
	if etag2 == etag1 {
		t.Error("a verified key did not replace an unverified one")
	}
	got, err := db.BackupKeys(ctx, "@a:x", v1, "!r:x", "s1")
	if err != nil || len(got) != 1 || string(got[0].SessionData) != `{"d":"verified"}` || !got[0].IsVerified {
		t.Fatalf("BackupKeys %+v %v", got, err)
	}
	v2, _ := db.CreateBackupVersion(ctx, "@a:x", "alg", []byte(`{"a":2}`))
	if _, _, err := db.PutBackupKeys(ctx, "@a:x", v1, []storage.BackupKey{key}); !errors.Is(err, storage.ErrWrongBackupVersion) {
		t.Errorf("write to the old version: %v", err)
	}
	if _, _, err := db.PutBackupKeys(ctx, "@a:x", "99", []storage.BackupKey{key}); !errors.Is(err, storage.ErrWrongBackupVersion) {
		t.Errorf("write to an unknown version: %v", err)
	}
	if _, _, err := db.PutBackupKeys(ctx, "@nobackup:x", "1", []storage.BackupKey{key}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("write without any backup: %v", err)
	}
	if cur, err := db.GetBackupVersion(ctx, "@a:x", ""); err != nil || cur.Version != v2 || string(cur.AuthData) != `{"a":2}` || cur.Count != 0 {
		t.Errorf("current version %+v %v", cur, err)
	}
	if old, err := db.GetBackupVersion(ctx, "@a:x", v1); err != nil || old.Count != 1 || old.ETag != etag2 {
		t.Errorf("old version %+v %v", old, err)
	}
	if _, count, err := db.DeleteBackupKeys(ctx, "@a:x", v1, "!r:x", ""); err != nil || count != 0 {
		t.Errorf("DeleteBackupKeys %d %v", count, err)
	}
	if err := db.UpdateBackupVersion(ctx, "@a:x", v2, []byte(`{"a":3}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteBackupVersion(ctx, "@a:x", v2); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteBackupVersion(ctx, "@a:x", v2); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if err := db.DeleteBackupVersion(ctx, "@a:x", "77"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete of a version never created: %v", err)
	}
	if _, err := db.GetBackupVersion(ctx, "@a:x", v2); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a deleted version is still served: %v", err)
	}
	if cur, err := db.GetBackupVersion(ctx, "@a:x", ""); err != nil || cur.Version != v1 {
		t.Errorf("after deleting v2 the current version is %+v %v, want %s", cur, err, v1)
	}
	if v3, _ := db.CreateBackupVersion(ctx, "@a:x", "alg", []byte(`{}`)); v3 != "3" {
		t.Errorf("a deleted version number was reused: %q", v3)
	}
	if _, err := db.GetBackupVersion(ctx, "@b:x", v1); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another user's version: %v", err)
	}
}
